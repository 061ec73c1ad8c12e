"""The use cases: conferences, roles, Twilio state callbacks, validation and their errors."""
from __future__ import annotations

from conference.service.base import (
    AI_LABEL,
    TWILIO_NOT_FOUND,
    find_participant,
    get_conference,
    list_conferences,
    mark_conference_ended,
    record_api_event,
    write_transaction,
)
from conference.service.browser import (
    add_browser_supervisor,
    browser_label,
    remove_browser_supervisor,
)
from conference.service.conferences import (
    add_participant,
    create_conference,
    end_conference,
    remove_participant,
)
from conference.service.errors import ServiceError
from conference.service.roles import (
    add_ai,
    add_supervisor,
    ai_dial_address,
    remove_ai,
    set_ai_mode,
    set_supervisor_mode,
)

__all__ = [
    "AI_LABEL", "TWILIO_NOT_FOUND", "add_ai", "add_browser_supervisor", "add_participant",
    "add_supervisor", "browser_label", "remove_browser_supervisor",
    "ai_dial_address", "create_conference", "end_conference", "find_participant",
    "get_conference", "list_conferences", "mark_conference_ended", "record_api_event",
    "ServiceError", "remove_ai", "remove_participant", "set_ai_mode", "set_supervisor_mode",
    "write_transaction",
]
