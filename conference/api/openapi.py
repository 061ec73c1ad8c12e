"""The OpenAPI 3.1 document of the admin API, served at /api/openapi.json."""
from __future__ import annotations

from flask import current_app, jsonify

from conference.api import bp
from conference.service.validation import AI_MODES, HUMAN_ROLES, SUPERVISOR_MODES

_REF = "#/components/schemas/"


def _body(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": _REF + schema}}}}


def _ok(status: str, schema: str, description: str) -> dict:
    return {status: {"description": description,
                     "content": {"application/json": {"schema": {"$ref": _REF + schema}}}}}


def _errors(*codes: str) -> dict:
    text = {"401": "Missing or unknown API key", "404": "Unknown conference or label",
            "409": "Conflicts with current state (duplicate name or label, conference ended)",
            "422": "Body failed validation; `fields` names each bad field",
            "429": "The tenant's concurrent AI-session cap is reached",
            "502": "Twilio refused; `twilio` carries Twilio's code and message"}
    return {c: {"description": text[c], "content": {"application/json": {
        "schema": {"$ref": _REF + "Error"}}}} for c in ("401", *codes)}


def _op(summary: str, ok: dict, *errors: str, body: str | None = None) -> dict:
    op = {"summary": summary, "responses": {**ok, **_errors(*errors)}}
    if body:
        op["requestBody"] = _body(body)
    return op


_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_LABEL = {"name": "label", "in": "path", "required": True, "schema": {"type": "string"}}
_STR = {"type": "string"}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"], "properties": {
            "code": _STR, "message": _STR,
            "fields": {"type": "object", "additionalProperties": _STR},
            "twilio": {"type": "object", "properties": {
                "code": {"type": ["integer", "null"]}, "message": _STR}}}}}},
    "NewParticipant": {"type": "object", "required": ["to", "role", "label"], "properties": {
        "to": {"type": "string", "description": "E.164 number, sip: or client: address"},
        "role": {"enum": list(HUMAN_ROLES)}, "label": _STR}},
    "AI": {"type": "object", "required": ["agent", "mode"], "properties": {
        "agent": {**_STR, "description": "one of the tenant's agent profiles (GET /api/agents)"},
        "mode": {"enum": list(AI_MODES)},
        "coach": {"type": "string", "description": "label coached in whisper mode"}}},
    "NewConference": {"type": "object", "required": ["name"], "properties": {
        "name": _STR, "participants": {"type": "array", "items": {"$ref": _REF + "NewParticipant"}},
        "ai": {"$ref": _REF + "AI"}}},
    "NewSupervisor": {"type": "object", "required": ["to", "mode"], "properties": {
        "to": _STR, "mode": {"enum": list(SUPERVISOR_MODES)}, "coach": _STR}},
    "SupervisorMode": {"type": "object", "required": ["mode"], "properties": {
        "mode": {"enum": list(SUPERVISOR_MODES)}, "coach": _STR}},
    "Participant": {"type": "object", "properties": {
        k: _STR for k in ("label", "role", "mode", "status", "call_sid", "coach", "joined_at",
                          "left_at")} | {k: {"type": "boolean"} for k in (
                              "muted", "hold", "coaching", "forked")}},
    "Conference": {"type": "object", "properties": {
        "name": _STR, "status": {"enum": ["pending", "in-progress", "completed", "failed"]},
        "twilio_sid": _STR, "created_at": _STR, "started_at": _STR, "ended_at": _STR,
        "participants": {"type": "array", "items": {"$ref": _REF + "Participant"}},
        "ai": {"type": ["object", "null"]},
        "streams": {"type": "array", "items": {"type": "object"}},
        "events": {"type": "array", "items": {"type": "object"}}}},
    "ToolSecretStatus": {"type": "object", "properties": {
        "issued": {"type": "boolean"}, "rotated_at": {"type": ["string", "null"]},
        "previous_valid_until": {"type": ["string", "null"]}}},
    "ToolSecret": {"type": "object", "required": ["secret"], "properties": {
        "secret": {**_STR, "description": "HMAC-SHA256 key of X-Forkline-Signature; shown once"},
        "issued": {"type": "boolean"}, "rotated_at": _STR,
        "previous_valid_until": {"type": ["string", "null"]}}},
    "ConferenceList": {"type": "object", "properties": {
        "conferences": {"type": "array", "items": {"$ref": _REF + "Conference"}}}},
}


def document() -> dict:
    """The whole OpenAPI document."""
    conf = "/conferences/{name}"
    paths = {
        "/conferences": {
            "post": _op("Create a conference and dial its participants",
                        _ok("201", "Conference", "Created"), "409", "422", "429", "502",
                        body="NewConference"),
            "get": _op("List conferences", _ok("200", "ConferenceList", "The tenant's list")),
        },
        conf: {"get": _op("A conference with participants, streams, AI state and events",
                          _ok("200", "Conference", "The conference"), "404")},
        f"{conf}/participants": {"post": _op(
            "Add a participant", _ok("201", "Participant", "Dialed"), "404", "409", "422",
            "502", body="NewParticipant")},
        f"{conf}/participants/{{label}}": {"delete": _op(
            "Remove a participant", _ok("200", "Participant", "Removed"), "404", "502")},
        f"{conf}/ai": {
            "put": _op("Add the AI, or switch its mode", {
                **_ok("201", "Participant", "AI dialed"), **_ok("200", "Participant", "Mode set")},
                "404", "409", "422", "429", "502", body="AI"),
            "delete": _op("Remove the AI", _ok("200", "Participant", "Removed"), "404", "502"),
        },
        f"{conf}/supervisors": {"post": _op(
            "Add a supervisor (listen, whisper or barge)", _ok("201", "Participant", "Dialed"),
            "404", "409", "422", "502", body="NewSupervisor")},
        f"{conf}/supervisors/{{label}}": {
            "patch": _op("Switch a supervisor's mode", _ok("200", "Participant", "Mode set"),
                         "404", "409", "422", "502", body="SupervisorMode"),
            "delete": _op("Remove a supervisor", _ok("200", "Participant", "Removed"), "404",
                          "502"),
        },
        f"{conf}/end": {"post": _op("End the conference", _ok("200", "Conference", "Ended"),
                                    "404", "502")},
        "/tool-secret": {"get": _op("The tool-webhook secret's state (never the secret)",
                                    _ok("200", "ToolSecretStatus", "State"))},
        "/tool-secret/rotate": {"post": _op(
            "Issue a new tool-webhook secret (shown once; the previous signs during the overlap)",
            _ok("201", "ToolSecret", "Issued"), "409")},
    }
    # Other components document their own /api routes here (path -> operations).
    paths.update(current_app.extensions.get("openapi_paths", {}))
    for path, ops in paths.items():
        params = [_NAME] + ([_LABEL] if "{label}" in path else []) if "{name}" in path else []
        for op in ops.values():
            if params:
                op.setdefault("parameters", params)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Forkline admin API", "version": "1.0.0"},
        "servers": [{"url": "/api"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "A tenant API key from `flask tenants create`"}}},
    }


@bp.get("/openapi.json")
def openapi():
    """Serve the OpenAPI document (no authentication needed)."""
    return jsonify(document())
