"""SQLAlchemy 2.0 typed models and the session lifecycle; never imports conference or agents."""
from models.agent import (
    AgentProfileRecord,
    ConferenceSummary,
    ToolCallRecord,
    TranscriptEntry,
    TurnMetric,
)
from models.conference import Conference, Participant
from models.db import Base, get_engine, get_session, init_app, transaction
from models.event import ConferenceEvent
from models.stream import Stream
from models.tenant import ApiKey, Tenant
from models.user import ConsoleUser

__all__ = [
    "AgentProfileRecord",
    "ConferenceSummary",
    "ToolCallRecord",
    "TranscriptEntry",
    "TurnMetric",
    "ApiKey",
    "Base",
    "Conference",
    "ConsoleUser",
    "ConferenceEvent",
    "Participant",
    "Stream",
    "Tenant",
    "get_engine",
    "get_session",
    "init_app",
    "transaction",
]
