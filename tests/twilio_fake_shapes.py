"""Spec-shaped JSON bodies of the fake Twilio (every key is declared in the OpenAPI spec;
the fake checks each body on the way out)."""
from __future__ import annotations

DATE = "Wed, 25 Nov 2026 12:00:00 +0000"


def _uri(account: str, tail: str) -> str:
    return f"/2010-04-01/Accounts/{account}{tail}"


def participant(account: str, p: dict, queue_time: str | None = None) -> dict:
    """A conference participant resource."""
    return {
        "account_sid": account, "call_sid": p["call_sid"], "label": p["label"],
        "call_sid_to_coach": p["call_sid_to_coach"], "coaching": p["coaching"],
        "conference_sid": p["conference_sid"], "date_created": DATE, "date_updated": DATE,
        "end_conference_on_exit": p.get("end_conference_on_exit", False),
        "muted": p["muted"], "hold": p["hold"],
        "start_conference_on_enter": True, "status": p["status"], "queue_time": queue_time,
        "uri": _uri(account, f"/Conferences/{p['conference_sid']}/Participants/"
                             f"{p['call_sid']}.json"),
    }


def conference(account: str, c: dict) -> dict:
    """A conference resource."""
    return {
        "account_sid": account, "date_created": DATE, "date_updated": DATE,
        "api_version": "2010-04-01", "friendly_name": c["friendly_name"], "region": "us1",
        "sid": c["sid"], "status": c["status"],
        "uri": _uri(account, f"/Conferences/{c['sid']}.json"),
        "subresource_uris": {}, "reason_conference_ended": None,
        "call_sid_ending_conference": None,
    }


def call(account: str, c: dict) -> dict:
    """A call resource."""
    return {
        "sid": c["sid"], "account_sid": account, "to": c["to"], "from": c["from"],
        "status": c["status"], "direction": c["direction"], "api_version": "2010-04-01",
        "date_created": DATE, "date_updated": DATE, "uri": _uri(account, f"/Calls/{c['sid']}.json"),
    }


def stream(account: str, s: dict) -> dict:
    """A call stream resource."""
    return {
        "sid": s["sid"], "account_sid": account, "call_sid": s["call_sid"], "name": s["name"],
        "status": s["status"], "date_updated": DATE,
        "uri": _uri(account, f"/Calls/{s['call_sid']}/Streams/{s['sid']}.json"),
    }
