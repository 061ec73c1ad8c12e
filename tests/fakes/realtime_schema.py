"""Validation of Realtime events against the openai SDK's own pydantic models, and error shapes.

The SDK neither validates what it sends nor what it receives (reference §1.6), so the fake checks
both directions itself: client events like the real API (unknown_parameter for undeclared fields,
missing_required_parameter, invalid_value), and its own server events as a self-check.
"""
from __future__ import annotations

from typing import get_args

from openai.types.realtime.realtime_client_event import RealtimeClientEvent
from openai.types.realtime.realtime_server_event import RealtimeServerEvent
from pydantic import BaseModel, ValidationError


def _type_map(alias) -> dict[str, type[BaseModel]]:
    members = get_args(get_args(alias)[0])
    return {get_args(m.model_fields["type"].annotation)[0]: m for m in members}


CLIENT_MODELS = _type_map(RealtimeClientEvent)
SERVER_MODELS = _type_map(RealtimeServerEvent)


def error_body(code: str, message: str, param: str | None = None,
               event_id: str | None = None, kind: str = "invalid_request_error") -> dict:
    """The `error` object of an error server event."""
    return {"type": kind, "code": code, "message": message, "param": param, "event_id": event_id}


def check_client_event(event: object) -> dict | None:
    """None when `event` is a valid GA client event, else the error body the API would send."""
    if not isinstance(event, dict):
        return error_body("invalid_json", "The event is not a JSON object.")
    etype, event_id = event.get("type"), event.get("event_id")
    model = CLIENT_MODELS.get(etype)
    if model is None:
        return error_body("invalid_value", f"Invalid value: '{etype}'. Supported values are: "
                          + ", ".join(f"'{t}'" for t in sorted(CLIENT_MODELS)) + ".",
                          "type", event_id)
    session = event.get("session")
    if etype == "session.update" and isinstance(session, dict) and "type" not in session:
        # What the GA API answers to a beta-shaped (flat) session (reference §5.1).
        return error_body("missing_required_parameter",
                          "Missing required parameter: 'session.type'.", "session.type", event_id)
    try:
        parsed = model.model_validate(event)
    except ValidationError as exc:
        return _validation_error(exc, event_id)
    extra = first_extra(parsed)
    if extra:
        return error_body("unknown_parameter", f"Unknown parameter: '{extra}'.", extra, event_id)
    return None


def first_extra(model: BaseModel, path: str = "") -> str | None:
    """Dotted path of the first field the SDK model does not declare (its models allow extras)."""
    for key in model.model_extra or {}:
        return f"{path}{key}"
    for name in type(model).model_fields:
        found = _extra_in(getattr(model, name), f"{path}{name}")
        if found:
            return found
    return None


def _extra_in(value: object, path: str) -> str | None:
    if isinstance(value, BaseModel):
        return first_extra(value, path + ".")
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _extra_in(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _validation_error(exc: ValidationError, event_id: str | None) -> dict:
    first = exc.errors()[0]
    # Pydantic puts union member names into loc; the API only names JSON fields.
    parts = [p for p in first["loc"] if isinstance(p, int) or (p.islower() and "[" not in p)]
    param = ".".join(str(p) for p in parts)
    if first["type"] == "missing":
        return error_body("missing_required_parameter",
                          f"Missing required parameter: '{param}'.", param, event_id)
    return error_body("invalid_value", f"Invalid value for '{param}': {first['msg']}.",
                      param, event_id)


def check_server_event(event: dict) -> None:
    """Raise if the fake is about to send something the GA API would never send."""
    SERVER_MODELS[event["type"]].model_validate(event)
