"""Admin API endpoints: thin adapters from JSON to conference.service."""
from __future__ import annotations

from flask import current_app, g, jsonify, request

from conference import service
from conference.api import bp, schemas
from conference.api.views import conference_detail_json, conference_json, participant_json
from conference.service import tool_secrets
from conference.service.errors import Invalid, NotFound
from conference.service.validation import CONFERENCE_STATUSES


@bp.post("/conferences")
def create_conference():
    """Create a conference and dial its participants (and optionally the AI)."""
    body = schemas.conference_create(schemas.json_body(), g.tenant.id)
    conf = service.create_conference(g.tenant, body["name"], body["participants"], body["ai"])
    return jsonify(conference_json(conf)), 201


@bp.get("/conferences")
def list_conferences():
    """The tenant's conferences, newest first (optionally ?status=…)."""
    status = request.args.get("status")
    if status is not None and status not in CONFERENCE_STATUSES:
        raise Invalid("bad query", fields={"status": "unknown status"})
    confs = service.list_conferences(g.tenant, status)
    return jsonify({"conferences": [conference_json(c) for c in confs]})


@bp.get("/conferences/<name>")
def get_conference(name: str):
    """One conference with participants, streams, AI state and recent events."""
    return jsonify(conference_detail_json(service.get_conference(g.tenant, name)))


@bp.post("/conferences/<name>/participants")
def add_participant(name: str):
    """Dial a customer or agent into the conference."""
    body = schemas.participant_create(schemas.json_body())
    p = service.add_participant(g.tenant, name, body["to"], body["role"], body["label"])
    return jsonify(participant_json(p)), 201


@bp.delete("/conferences/<name>/participants/<label>")
def remove_participant(name: str, label: str):
    """Remove a customer or agent."""
    conf = service.get_conference(g.tenant, name)
    role = service.find_participant(conf, label).role
    if role not in ("customer", "agent"):
        raise NotFound(f"no customer or agent {label!r}; use the {role} endpoint")
    return jsonify(participant_json(service.remove_participant(g.tenant, name, label))), 200


@bp.put("/conferences/<name>/ai")
def put_ai(name: str):
    """Add the AI, or switch its mode when it is already there."""
    body = schemas.ai_put(schemas.json_body(), g.tenant.id)
    p, created = service.add_ai(g.tenant, name, body["agent"], body["mode"], body.get("coach"))
    return jsonify(participant_json(p) | {"agent": p.agent}), 201 if created else 200


@bp.delete("/conferences/<name>/ai")
def delete_ai(name: str):
    """Remove the AI."""
    return jsonify(participant_json(service.remove_ai(g.tenant, name)))


@bp.post("/conferences/<name>/supervisors")
def add_supervisor(name: str):
    """Dial a supervisor in listen, whisper or barge mode; returns its label."""
    body = schemas.supervisor_create(schemas.json_body())
    p = service.add_supervisor(g.tenant, name, body["to"], body["mode"], body.get("coach"))
    return jsonify(participant_json(p)), 201


@bp.patch("/conferences/<name>/supervisors/<label>")
def patch_supervisor(name: str, label: str):
    """Switch a supervisor's mode."""
    body = schemas.supervisor_patch(schemas.json_body())
    p = service.set_supervisor_mode(g.tenant, name, label, body["mode"], body.get("coach"))
    return jsonify(participant_json(p))


@bp.delete("/conferences/<name>/supervisors/<label>")
def delete_supervisor(name: str, label: str):
    """Remove a supervisor."""
    return jsonify(participant_json(
        service.remove_participant(g.tenant, name, label, role="supervisor")))


@bp.post("/conferences/<name>/end")
def end_conference(name: str):
    """End the conference (Status=completed at Twilio)."""
    return jsonify(conference_json(service.end_conference(g.tenant, name)))


@bp.get("/tool-secret")
def get_tool_secret():
    """Whether the tenant's tool-webhook secret is issued, and its rotation overlap (no secret)."""
    return jsonify(tool_secrets.status(g.tenant, current_app.config))


@bp.post("/tool-secret/rotate")
def rotate_tool_secret():
    """Issue a new tool-webhook secret, shown only in this answer; the previous overlaps."""
    return jsonify(tool_secrets.rotate(g.tenant.id, current_app.config)), 201
