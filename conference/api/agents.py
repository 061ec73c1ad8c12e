"""Admin API for agent profiles and conference transcripts (same auth and errors as /api)."""
from __future__ import annotations

import contextlib

import sqlalchemy as sa
from flask import Blueprint, Flask, g, jsonify
from werkzeug.exceptions import HTTPException

from conference.ai import profiles
from conference.api import agents_openapi, authenticate, http_error, service_error
from conference.api.schemas import json_body
from conference.service.base import get_conference
from conference.service.errors import Conflict, Invalid, NotFound, ServiceError
from conference.transcripts import store as transcripts
from models import AgentProfileRecord, ConferenceSummary, get_session, transaction

bp = Blueprint("agents_api", __name__, url_prefix="/api")
bp.before_request(authenticate)
bp.register_error_handler(ServiceError, service_error)
bp.register_error_handler(HTTPException, http_error)


@bp.get("/agents")
def list_agents():
    """The tenant's agent profiles; `default` is always listed."""
    records = profiles.list_records(g.tenant.id)
    return jsonify({"agents": [profiles.profile_json(r) for r in records]})


@bp.get("/agents/<name>")
def get_agent(name: str):
    """One profile, or 404."""
    record = profiles.get_record(g.tenant.id, name)
    if record is None:
        raise NotFound(f"no agent profile {name!r}")
    return jsonify(profiles.profile_json(record))


@bp.put("/agents/<name>")
def put_agent(name: str):
    """Create or update a profile; fields left out keep their value (or the default's)."""
    body = json_body()
    with transaction() as session:
        record = profiles.get_record(g.tenant.id, name, session)
        creating = record is None or record.id is None
        problems = profiles.problems(name, body, creating and name != profiles.DEFAULT_NAME)
        if problems:
            raise Invalid("request failed validation", fields=problems)
        if record is None:
            record = AgentProfileRecord(tenant_id=g.tenant.id, name=name, voice="alloy",
                                                 tools=[], faq=[])
        profiles.apply(record, body)
        session.add(record)
        try:
            session.flush()
        except sa.exc.IntegrityError as exc:  # a concurrent PUT created it first
            raise Conflict(f"agent profile {name!r} was just created; retry") from exc
    return jsonify(profiles.profile_json(record)), 201 if creating else 200


@bp.get("/conferences/<name>/transcript")
def get_transcript(name: str):
    """One ordered, speaker-labelled transcript (human forks and the AI), plus the summary."""
    session = get_session()
    conf = get_conference(g.tenant, name, session)
    summary = session.scalar(
        sa.select(ConferenceSummary).where(ConferenceSummary.conference_id == conf.id))
    return jsonify({
        "conference": conf.name,
        "entries": transcripts.conference_entries(session, conf.id),
        "summary": {"text": summary.text, "method": summary.method} if summary else None,
    })


def init_app(app: Flask) -> None:
    """Register the blueprint, its OpenAPI paths and the stage metrics."""
    app.register_blueprint(bp)
    app.extensions.setdefault("openapi_paths", {}).update(agents_openapi.PATHS)
    _export_stage_metrics()


def _export_stage_metrics() -> None:
    # /metrics serves the media plane's registry; the stage histograms join it once.
    from agents.pipeline.metrics import STAGE_SECONDS
    from conference.media.metrics import REGISTRY

    with contextlib.suppress(ValueError):  # already registered by an earlier app
        REGISTRY.register(STAGE_SECONDS)
