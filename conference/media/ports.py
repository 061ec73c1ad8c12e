"""Calls up from the media plane, handed in by the control plane at init_app.

The media plane never imports the use cases, the AI's tools or the transcripts: each of them
registers its port in `app.extensions` and the media plane calls it, or does without.
- "agent_profile_loader": fn(tenant, agent_name) -> AgentProfile (else a default profile);
- "agent_tool_handler": fn(app, call_context: dict, ToolCall) -> dict, the tool's output;
- "agent_event_recorder": fn(submit, info) -> an object with `observe(agent_event)` and
  `interrupted(item_id, heard_ms, generated_ms)` (a barge-in cut the AI's item).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

PROFILE_LOADER = "agent_profile_loader"
TOOL_HANDLER = "agent_tool_handler"
EVENT_RECORDER = "agent_event_recorder"


class NullRecorder:
    """Stands in when nothing records agent events (a media-only app)."""

    def observe(self, event: object) -> None:
        """Ignore `event`."""

    def interrupted(self, item_id: str | None, heard_ms: int, generated_ms: int) -> None:
        """Ignore the cut."""


def profile_loader(app: Flask) -> Callable[[Any, str], Any] | None:
    """The registered agent profile loader, if any."""
    return app.extensions.get(PROFILE_LOADER)


def tool_handler(app: Flask) -> Callable[[Flask, dict, Any], dict] | None:
    """The registered tool handler, if any."""
    return app.extensions.get(TOOL_HANDLER)


def event_recorder(app: Flask, submit: Callable, info: dict) -> Any:
    """A recorder of one AI call's agent events (a NullRecorder when none is registered)."""
    factory = app.extensions.get(EVENT_RECORDER)
    return factory(submit, info) if factory is not None else NullRecorder()
