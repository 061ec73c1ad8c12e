"""Runs the AI's tool calls for a live call, and records each one in the database.

The media plane calls `handle_tool_call` (its "agent_tool_handler" port) from its own greenlet
when an AgentSession emits a ToolCall; the returned dict goes back to the model with
`send_tool_result`. Arguments are validated again here (any backend may emit ToolCalls): a bad
call is recorded as `rejected`, is answered with a tool error, and changes nothing.

call_context keys:
    tenant_id (int, required), conference (str, required): whose conference this is;
    ai_call_sid (str): the AI leg; coach (str): label of the agent the AI coaches in whisper mode;
    tools (list[str]): the profile's tool names (None: any known tool);
    transfer_to (str): number of the human agent for transfer_to_human
        (default: config AGENT_TRANSFER_NUMBER); lookup_url (str): the tenant's webhook
        (default: config AGENT_LOOKUP_URL); join_timeout_s, briefing_s, end_grace_s (floats).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents import tools
from agents.base import ToolCall
from conference.ai import profiles, tool_actions
from conference.logs import get_logger
from conference.media import ports
from conference.service.errors import ServiceError
from models import get_session, transaction
from models.agent import ToolCallRecord
from models.conference import conference_id

log = get_logger("tools")


def handle_tool_call(app: Any, call_context: Mapping, event: ToolCall) -> dict:
    """Run `event` for the call in `call_context`; returns the output for the model."""
    with app.app_context():
        return _run(app, dict(call_context), event)


def init_app(app: Any) -> None:
    """Hand the media plane its ports up: agent profiles and tool calls."""
    app.extensions[ports.PROFILE_LOADER] = profiles.runtime_profile
    app.extensions[ports.TOOL_HANDLER] = handle_tool_call


def _run(app: Any, ctx: dict, event: ToolCall) -> dict:
    record_id = _record(ctx, event)
    allowed = tuple(ctx["tools"]) if ctx.get("tools") is not None else None
    try:
        arguments = tools.validate(event.name, event.arguments, allowed)
    except tools.ToolArgumentError as exc:
        result, status = tools.error_output(str(exc)), "rejected"
    else:
        result, status = _execute(app, ctx, event.name, arguments)
    _finish(record_id, result, status)
    log.info("tool call", extra={"event": "tool_call", "tool": event.name, "status": status,
                                 "call_sid": ctx.get("ai_call_sid")})
    return result


def _execute(app: Any, ctx: dict, name: str, arguments: dict) -> tuple[dict, str]:
    if ctx.get("tenant_id") is None or not ctx.get("conference"):
        return tools.error_output("this call is not part of a conference"), "error"
    try:
        result = tool_actions.ACTIONS[name](app, ctx, arguments)
    except ServiceError as exc:
        return tools.error_output(exc.message), "error"
    except Exception:  # a tool must never take the call down with it
        log.warning("tool %s failed", name, exc_info=True, extra={"event": "tool_call"})
        return tools.error_output("the tool failed"), "error"
    return result, "ok" if result.get("ok") else "error"


def _record(ctx: dict, event: ToolCall) -> int:
    with transaction() as session:
        conf_id = conference_id(session, ctx.get("tenant_id"), ctx.get("conference"))
        row = ToolCallRecord(conference_id=conf_id, call_sid=ctx.get("ai_call_sid"),
                             call_id=event.call_id[:64], name=event.name[:64],
                             arguments=_jsonable(event.arguments), status="pending")
        session.add(row)
    return row.id


def _finish(record_id: int, result: dict, status: str) -> None:
    with transaction() as session:
        row = session.get(ToolCallRecord, record_id)
        row.result, row.status = result, status
    get_session().expire_all()


def _jsonable(arguments: Mapping) -> dict:
    return arguments if isinstance(arguments, dict) else {"raw": str(arguments)}
