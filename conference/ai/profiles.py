"""Agent profiles per tenant: lookup, the always-present `default`, validation and JSON shape."""
from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so

from agents import registry, tools
from agents.base import AgentProfile
from conference.service.validation import NAME_RE
from models import AgentProfileRecord, get_session
from models.conference import tenant_number

DEFAULT_NAME = "default"
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar")
DEFAULT_TOOLS = ["end_call", "transfer_to_human", "whisper_to_agent"]
FIELDS = ("instructions", "voice", "greeting", "tools", "faq", "backend")
MAX_INSTRUCTIONS, MAX_TEXT, MAX_FAQ = 8000, 500, 50


def _default_record(tenant_id: int) -> AgentProfileRecord:
    from agents.local import DEFAULT_FAQ

    base = AgentProfile()
    return AgentProfileRecord(
        tenant_id=tenant_id, name=DEFAULT_NAME, instructions=base.instructions, voice=base.voice,
        greeting=None, tools=list(DEFAULT_TOOLS),
        faq=[{"question": q, "answer": a} for q, a in DEFAULT_FAQ], backend=None,
    )


def get_record(
    tenant_id: int, name: str, session: so.Session | None = None
) -> AgentProfileRecord | None:
    """The tenant's profile `name`; for `default` never stored, an unsaved default record.

    Reads never write: the default only reaches the database when someone PUTs it.
    """
    session = session or get_session()
    record = session.scalar(sa.select(AgentProfileRecord).where(
        AgentProfileRecord.tenant_id == tenant_id, AgentProfileRecord.name == name))
    if record is None and name == DEFAULT_NAME:
        record = _default_record(tenant_id)
    return record


def list_records(tenant_id: int, session: so.Session | None = None) -> list[AgentProfileRecord]:
    """All of the tenant's profiles by name (default included)."""
    session = session or get_session()
    records = list(session.scalars(
        sa.select(AgentProfileRecord).where(AgentProfileRecord.tenant_id == tenant_id)))
    if not any(r.name == DEFAULT_NAME for r in records):
        records.append(_default_record(tenant_id))
    return sorted(records, key=lambda r: r.name)


def profile_exists(tenant_id: int, name: str) -> bool:
    """True for `default` and for any profile the tenant created."""
    if name == DEFAULT_NAME:
        return True
    return get_record(tenant_id, name) is not None


def to_profile(record: AgentProfileRecord) -> AgentProfile:
    """The agents-side value object of a record."""
    return AgentProfile(
        name=record.name, instructions=record.instructions, voice=record.voice,
        greeting=record.greeting, tools=tuple(record.tools or ()),
        faq=tuple((item["question"], item["answer"]) for item in record.faq or ()),
        backend=record.backend,
    )


def load_profile(tenant_id: int, name: str) -> AgentProfile | None:
    """The tenant's profile `name` as an AgentProfile, or None when there is no such profile."""
    record = get_record(tenant_id, name)
    return None if record is None else to_profile(record)


def backend_for(tenant_id: int, name: str) -> str | None:
    """The backend profile `name` asks for (None: use AI_BACKEND)."""
    record = get_record(tenant_id, name)
    return record.backend if record is not None else None


def runtime_profile(tenant: str | int | None, name: str | None) -> AgentProfile:
    """The profile a live AI call runs with: `name`, else the tenant's default."""
    tenant_id = tenant_number(tenant) or 0
    return (load_profile(tenant_id, name or DEFAULT_NAME)
            or load_profile(tenant_id, DEFAULT_NAME) or AgentProfile())


def profile_json(record: AgentProfileRecord) -> dict:
    """A profile as the admin API shows it."""
    return {
        "name": record.name, "instructions": record.instructions, "voice": record.voice,
        "greeting": record.greeting, "tools": list(record.tools or ()),
        "faq": list(record.faq or ()), "backend": record.backend,
        "updated_at": record.updated_at.isoformat() if record.updated_at else None,
    }


def _text(value, limit: int, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string" + (" or null" if optional else "")
    return f"at most {limit} characters" if len(value) > limit else None


def _faq(value) -> str | None:
    if not isinstance(value, list) or len(value) > MAX_FAQ:
        return f"a list of at most {MAX_FAQ} {{question, answer}} objects"
    for item in value:
        if (not isinstance(item, dict) or set(item) != {"question", "answer"}
                or _text(item["question"], MAX_TEXT) or _text(item["answer"], MAX_TEXT)):
            return "each item must be {question, answer} with non-empty strings"
    return None


def problems(name: str, body: dict, creating: bool) -> dict[str, str]:
    """Field -> problem for a PUT body (empty when valid)."""
    found: dict[str, str | None] = {f: "unknown field" for f in body if f not in FIELDS}
    found["name"] = None if NAME_RE.fullmatch(name) else "letters, digits, . _ - (max 64)"
    if creating and "instructions" not in body:
        found["instructions"] = "required for a new profile"
    if "instructions" in body:
        found["instructions"] = _text(body["instructions"], MAX_INSTRUCTIONS)
    if "voice" in body and body["voice"] not in VOICES:
        found["voice"] = f"one of {', '.join(VOICES)}"
    if "greeting" in body:
        found["greeting"] = _text(body["greeting"], MAX_TEXT, optional=True)
    if "tools" in body and (not isinstance(body["tools"], list)
                            or any(t not in tools.TOOLS for t in body["tools"])):
        found["tools"] = f"a list of tool names from {', '.join(sorted(tools.TOOLS))}"
    if "faq" in body:
        found["faq"] = _faq(body["faq"])
    if "backend" in body and body["backend"] is not None and (
            body["backend"] not in registry.available()):
        found["backend"] = f"null or one of {', '.join(registry.available())}"
    return {k: v for k, v in found.items() if v}


def apply(record: AgentProfileRecord, body: dict) -> None:
    """Copy the (validated) fields present in `body` onto `record`."""
    for field in FIELDS:
        if field in body:
            value = body[field]
            setattr(record, field, list(dict.fromkeys(value)) if field == "tools" else value)
