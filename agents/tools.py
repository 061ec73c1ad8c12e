"""Tools the AI may call: JSON schemas for the model and strict argument validation.

Validation is deliberately strict (no extra keys, right types, bounded strings) because a tool
call with bad arguments must produce a tool error for the model and no side effect at all.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_TEXT = 500


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: name, description for the model, and its parameters (name -> description)."""

    name: str
    description: str
    params: tuple[tuple[str, str], ...] = ()


TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec("end_call", "Hang up the call after saying goodbye."),
        ToolSpec(
            "transfer_to_human",
            "Warm-transfer the caller to a human agent; say you are transferring first.",
            (("reason", "Why the caller needs a human, one sentence for the agent's briefing."),),
        ),
        ToolSpec(
            "whisper_to_agent",
            "Say something privately to the coached human agent; the caller does not hear it.",
            (("text", "What to whisper to the agent."),),
        ),
        ToolSpec(
            "lookup",
            "Look something up in the company's records (orders, accounts, opening hours).",
            (("query", "What to look up, in a few words."),),
        ),
    )
}


class ToolArgumentError(ValueError):
    """Arguments a tool cannot run with; the message is safe to show the model."""


def schema(name: str) -> dict:
    """The GA Realtime (flat) function tool declaration for tool `name`."""
    spec = TOOLS[name]
    return {
        "type": "function",
        "name": spec.name,
        "description": spec.description,
        "parameters": {
            "type": "object",
            "properties": {p: {"type": "string", "description": d} for p, d in spec.params},
            "required": [p for p, _ in spec.params],
            "additionalProperties": False,
        },
    }


def schemas(names: tuple[str, ...] | list[str]) -> list[dict]:
    """Declarations for the known tools among `names`, in order."""
    return [schema(name) for name in names if name in TOOLS]


def validate(name: str, arguments: object, allowed: tuple[str, ...] | None = None) -> dict:
    """Checked arguments for tool `name`; raises ToolArgumentError on anything unexpected."""
    spec = TOOLS.get(name)
    if spec is None or (allowed is not None and name not in allowed):
        raise ToolArgumentError(f"unknown tool {name!r}")
    if not isinstance(arguments, dict):
        raise ToolArgumentError("arguments must be a JSON object")
    expected = {p for p, _ in spec.params}
    extra = sorted(set(arguments) - expected)
    if extra:
        raise ToolArgumentError(f"unexpected argument(s): {', '.join(extra)}")
    checked = {}
    for param in sorted(expected):
        value = arguments.get(param)
        if not isinstance(value, str) or not value.strip():
            raise ToolArgumentError(f"argument {param!r} must be a non-empty string")
        if len(value) > MAX_TEXT:
            raise ToolArgumentError(f"argument {param!r} is longer than {MAX_TEXT} characters")
        checked[param] = value.strip()
    return checked


def error_output(message: str) -> dict:
    """The function_call_output body for a rejected call."""
    return {"ok": False, "error": message}
