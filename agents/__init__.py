"""AI backends behind one session interface; never imports conference, models or flask."""
from agents.base import AgentError, AgentProfile, AgentSession
from agents.registry import available, create_session, register

__all__ = ["AgentError", "AgentProfile", "AgentSession", "available", "create_session", "register"]
