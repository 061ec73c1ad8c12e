"""Conference controls: JSON POSTs (CSRF header) calling the same service functions as /api."""
from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from conference import service
from console.blueprint import bp
from console.guard import admin_required, error_body


class Invalid(service.ServiceError):
    """A console body field is missing or not a string (same shape as the API's 422)."""

    status, code = 422, "validation_failed"


def _body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _text(body: dict, key: str, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise Invalid("request failed validation", fields={key: "required"})
        return None
    if not isinstance(value, str):
        raise Invalid("request failed validation", fields={key: "must be a string"})
    return value


def _done(name: str):
    conf = service.get_conference(current_user.tenant_id, name)
    return jsonify({"ok": True, "status": conf.status})


@bp.post("/conferences/<name>/ai/mode")
def ai_mode(name: str):
    """Switch the AI's mode (speak, listen, whisper with a coach)."""
    body = _body()
    service.set_ai_mode(current_user.tenant_id, name, _text(body, "mode"),
                        _text(body, "coach", required=False))
    return _done(name)


@bp.post("/conferences/<name>/ai")
@admin_required
def ai_add(name: str):
    """Add the AI with an agent profile."""
    body = _body()
    service.add_ai(current_user.tenant_id, name, _text(body, "agent"), _text(body, "mode"),
                   _text(body, "coach", required=False))
    return _done(name)


@bp.post("/conferences/<name>/ai/remove")
@admin_required
def ai_remove(name: str):
    """Remove the AI."""
    service.remove_ai(current_user.tenant_id, name)
    return _done(name)


@bp.post("/conferences/<name>/participants")
@admin_required
def participant_add(name: str):
    """Dial a customer or agent."""
    body = _body()
    service.add_participant(current_user.tenant_id, name, _text(body, "to"),
                            _text(body, "role"), _text(body, "label"))
    return _done(name)


@bp.post("/conferences/<name>/participants/<label>/remove")
def participant_remove(name: str, label: str):
    """Remove a customer, agent or phone supervisor (never the AI: use ai/remove)."""
    conf = service.get_conference(current_user.tenant_id, name)
    role = service.find_participant(conf, label).role
    if role == "ai":
        return error_body(404, "not_found", f"no customer or agent {label!r}; remove the AI")
    if role != "supervisor" and not current_user.is_admin:
        return error_body(403, "forbidden", "removing a customer or agent needs the admin role")
    service.remove_participant(current_user.tenant_id, name, label, role=role)
    return _done(name)


@bp.post("/conferences/<name>/supervisors")
def supervisor_add(name: str):
    """Dial a phone supervisor in listen, whisper or barge mode."""
    body = _body()
    service.add_supervisor(current_user.tenant_id, name, _text(body, "to"), _text(body, "mode"),
                           _text(body, "coach", required=False))
    return _done(name)


@bp.post("/conferences/<name>/supervisors/<label>/mode")
def supervisor_mode(name: str, label: str):
    """Switch a phone supervisor between listen, whisper and barge."""
    body = _body()
    service.set_supervisor_mode(current_user.tenant_id, name, label, _text(body, "mode"),
                                _text(body, "coach", required=False))
    return _done(name)


@bp.post("/conferences/<name>/end")
def end(name: str):
    """End the conference for everyone."""
    service.end_conference(current_user.tenant_id, name)
    return _done(name)
