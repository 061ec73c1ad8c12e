"""Backend registry: maps AI_BACKEND names to session factories, imported lazily."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

from agents.base import AgentError, AgentProfile, AgentSession

SessionFactory = Callable[[AgentProfile, Mapping[str, Any]], AgentSession]

# name -> "module:attribute"; imported on first use so a backend's dependencies stay optional.
BUILTIN_BACKENDS: dict[str, str] = {
    "echo": "agents.echo:EchoSession",
    "realtime": "agents.realtime:RealtimeSession",
    "pipeline": "agents.pipeline:PipelineSession",
    "local": "agents.local:LocalSession",
}

_registered: dict[str, SessionFactory] = {}
# Config keys a backend may read (never Twilio secrets).
SETTING_PREFIXES = ("OPENAI_", "AI_", "AGENT_", "PIPELINE_", "LOCAL_", "STT_", "TTS_", "LLM_")


def backend_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The plain config values a backend may read (never Twilio secrets)."""
    return {k: v for k, v in config.items() if k.startswith(SETTING_PREFIXES)}


def register(name: str, factory: SessionFactory) -> None:
    """Add or replace a backend (tests use this to plug in fakes)."""
    _registered[name] = factory


def available() -> list[str]:
    """Names a caller may ask for."""
    return sorted(set(BUILTIN_BACKENDS) | set(_registered))


def get_factory(name: str) -> SessionFactory:
    """The factory for backend `name`; raises AgentError for an unknown name."""
    if name in _registered:
        return _registered[name]
    target = BUILTIN_BACKENDS.get(name)
    if target is None:
        raise AgentError("unknown_backend", f"no AI backend named {name!r}")
    module_name, _, attribute = target.partition(":")
    return getattr(import_module(module_name), attribute)


def create_session(
    name: str, profile: AgentProfile, settings: Mapping[str, Any]
) -> AgentSession:
    """A new, unconnected session of backend `name` (settings: plain config values)."""
    return get_factory(name)(profile, settings)
