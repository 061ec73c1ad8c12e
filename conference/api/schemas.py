"""Request-body validation for the admin API: every bad field is reported, with its path."""
from __future__ import annotations

from flask import request

from conference.ai.profiles import profile_exists
from conference.service.errors import Invalid
from conference.service.validation import (
    AI_MODES,
    HUMAN_ROLES,
    SUPERVISOR_MODES,
    check_agent,
    check_choice,
    check_label,
    check_name,
    check_to,
)

MAX_PARTICIPANTS = 20


def json_body() -> dict:
    """The JSON object body, or 422 when it is missing or not an object."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid("body must be a JSON object", fields={"body": "expected a JSON object"})
    return body


def _raise(problems: dict[str, str | None]) -> None:
    problems = {k: v for k, v in problems.items() if v}
    if problems:
        raise Invalid("request failed validation", fields=problems)


def _optional_label(value) -> str | None:
    return None if value is None else check_name(value)


def _unknown(body: dict, allowed: set[str], prefix: str = "") -> dict[str, str]:
    return {f"{prefix}{k}": "unknown field" for k in body if k not in allowed}


def participant_problems(item, prefix: str) -> dict[str, str | None]:
    """Problems of one {to, role, label}."""
    if not isinstance(item, dict):
        return {prefix.rstrip("."): "expected an object"}
    return {
        **_unknown(item, {"to", "role", "label"}, prefix),
        f"{prefix}to": check_to(item.get("to")),
        f"{prefix}role": check_choice(item.get("role"), HUMAN_ROLES),
        f"{prefix}label": check_label(item.get("label")),
    }


def _agent_problem(tenant_id: int, agent) -> str | None:
    problem = check_agent(agent)
    if problem is None and not profile_exists(tenant_id, agent):
        # Agent names are the tenant's profiles (PUT /api/agents/{name}), not backend names.
        return f"unknown agent profile {agent!r} (see GET /api/agents)"
    return problem


def ai_problems(item, tenant_id: int, prefix: str = "") -> dict[str, str | None]:
    """Problems of an {agent, mode, coach?} object; `agent` must be one of the tenant's profiles."""
    if not isinstance(item, dict):
        return {prefix.rstrip(".") or "body": "expected an object"}
    problems = {
        **_unknown(item, {"agent", "mode", "coach"}, prefix),
        f"{prefix}agent": _agent_problem(tenant_id, item.get("agent")),
        f"{prefix}mode": check_choice(item.get("mode"), AI_MODES),
        f"{prefix}coach": _optional_label(item.get("coach")),
    }
    if item.get("mode") == "whisper" and not item.get("coach"):
        problems[f"{prefix}coach"] = "required when mode is whisper"
    return problems


def conference_create(body: dict, tenant_id: int) -> dict:
    """Validate POST /api/conferences."""
    participants = body.get("participants", [])
    problems: dict[str, str | None] = {
        **_unknown(body, {"name", "participants", "ai"}), "name": check_name(body.get("name"))}
    if not isinstance(participants, list) or len(participants) > MAX_PARTICIPANTS:
        problems["participants"] = f"expected a list of at most {MAX_PARTICIPANTS} participants"
        participants = []
    labels: set = set()
    for i, item in enumerate(participants):
        problems.update(participant_problems(item, f"participants[{i}]."))
        label = item.get("label") if isinstance(item, dict) else None
        if isinstance(label, str) and label in labels:
            problems[f"participants[{i}].label"] = "duplicate label"
        labels.add(label)
    ai = body.get("ai")
    if ai is not None:
        problems.update(ai_problems(ai, tenant_id, "ai."))
        if isinstance(ai, dict) and ai.get("coach") and ai["coach"] not in labels:
            problems["ai.coach"] = "must be the label of one of the participants"
    _raise(problems)
    return {"name": body["name"], "participants": participants, "ai": ai}


def participant_create(body: dict) -> dict:
    """Validate POST /participants."""
    _raise(participant_problems(body, ""))
    return body


def ai_put(body: dict, tenant_id: int) -> dict:
    """Validate PUT /ai."""
    _raise(ai_problems(body, tenant_id))
    return body


def supervisor_create(body: dict) -> dict:
    """Validate POST /supervisors."""
    problems = {
        **_unknown(body, {"to", "mode", "coach"}),
        "to": check_to(body.get("to")),
        "mode": check_choice(body.get("mode"), SUPERVISOR_MODES),
        "coach": _optional_label(body.get("coach")),
    }
    if body.get("mode") == "whisper" and not body.get("coach"):
        problems["coach"] = "required when mode is whisper"
    _raise(problems)
    return body


def supervisor_patch(body: dict) -> dict:
    """Validate PATCH /supervisors/{label}."""
    _raise({
        **_unknown(body, {"mode", "coach"}),
        "mode": check_choice(body.get("mode"), SUPERVISOR_MODES),
        "coach": _optional_label(body.get("coach")),
    })
    return body
