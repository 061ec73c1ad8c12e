"""Resource -> JSON exactly in the shapes of the 2010-04-01 spec."""
from __future__ import annotations

from urllib.parse import urlencode

from ..store import Application, Call, Conference, Participant, Store, Stream

CALL_SUBRESOURCES = {
    "notifications": "Notifications", "recordings": "Recordings", "payments": "Payments",
    "events": "Events", "siprec": "Siprec", "streams": "Streams",
    "transcriptions": "Transcriptions",
    "user_defined_message_subscriptions": "UserDefinedMessageSubscriptions",
    "user_defined_messages": "UserDefinedMessages",
}


def application(store: Store, app: Application) -> dict:
    """The Application resource."""
    return {
        "account_sid": app.account_sid, "api_version": "2010-04-01",
        "date_created": app.date_created, "date_updated": app.date_updated,
        "friendly_name": app.friendly_name, "message_status_callback": None,
        "sid": app.sid, "sms_fallback_method": "POST", "sms_fallback_url": None,
        "sms_method": "POST", "sms_status_callback": None, "sms_url": None,
        "status_callback": app.status_callback,
        "status_callback_method": app.status_callback_method,
        "uri": f"{store.base()}/Applications/{app.sid}.json",
        "voice_caller_id_lookup": False, "voice_fallback_method": "POST",
        "voice_fallback_url": None, "voice_method": app.voice_method, "voice_url": app.voice_url,
        "public_application_connect_enabled": True,
    }


def call(store: Store, c: Call) -> dict:
    """The Call resource."""
    uri = f"{store.base()}/Calls/{c.sid}"
    subs = {name: f"{uri}/{path}.json" for name, path in CALL_SUBRESOURCES.items()}
    return {
        "sid": c.sid, "date_created": c.date_created, "date_updated": c.date_updated,
        "parent_call_sid": c.parent_call_sid, "account_sid": c.account_sid,
        "to": c.to, "to_formatted": c.to, "from": c.from_, "from_formatted": c.from_,
        "phone_number_sid": None, "status": c.status, "start_time": c.start_time,
        "end_time": c.end_time, "duration": c.duration, "price": None, "price_unit": "USD",
        "direction": c.direction, "answered_by": None, "api_version": "2010-04-01",
        "forwarded_from": None, "group_sid": None, "caller_name": None, "queue_time": "0",
        "trunk_sid": None, "uri": uri + ".json", "subresource_uris": subs,
    }


def stream(store: Store, s: Stream) -> dict:
    """The Stream resource."""
    return {
        "sid": s.sid, "account_sid": s.account_sid, "call_sid": s.call_sid,
        "name": s.name or s.sid, "status": s.status, "date_updated": s.date_updated,
        "uri": f"{store.base()}/Calls/{s.call_sid}/Streams/{s.sid}.json",
    }


def conference(store: Store, conf: Conference) -> dict:
    """The Conference resource."""
    uri = f"{store.base()}/Conferences/{conf.sid}"
    return {
        "account_sid": conf.account_sid, "date_created": conf.date_created,
        "date_updated": conf.date_updated, "api_version": "2010-04-01",
        "friendly_name": conf.friendly_name, "region": conf.region, "sid": conf.sid,
        "status": conf.status, "uri": uri + ".json",
        "subresource_uris": {"participants": uri + "/Participants.json",
                             "recordings": uri + "/Recordings.json"},
        "reason_conference_ended": conf.reason_conference_ended,
        "call_sid_ending_conference": conf.call_sid_ending_conference,
    }


def participant(store: Store, p: Participant, queue_time: str | None = None) -> dict:
    """The Participant resource."""
    return {
        "account_sid": p.account_sid, "call_sid": p.call_sid, "label": p.label,
        "call_sid_to_coach": p.call_sid_to_coach, "coaching": p.coaching,
        "conference_sid": p.conference_sid, "date_created": p.date_created,
        "date_updated": p.date_updated, "end_conference_on_exit": p.end_conference_on_exit,
        "muted": p.muted, "hold": p.hold,
        "start_conference_on_enter": p.start_conference_on_enter, "status": p.status,
        "queue_time": queue_time,
        "uri": f"{store.base()}/Conferences/{p.conference_sid}/Participants/{p.call_sid}.json",
    }


def page(key: str, path: str, items: list, args) -> dict:
    """A list envelope with Twilio's paging fields (PageSize, Page)."""
    try:
        size = max(1, min(1000, int(args.get("PageSize", 50))))
        number = max(0, int(args.get("Page", 0)))
    except ValueError:
        size, number = 50, 0
    chunk = items[number * size:(number + 1) * size]

    def uri(n: int) -> str:
        return f"{path}?{urlencode({'PageSize': size, 'Page': n})}"

    more = (number + 1) * size < len(items)
    return {
        key: chunk, "first_page_uri": uri(0), "next_page_uri": uri(number + 1) if more else None,
        "previous_page_uri": uri(number - 1) if number > 0 else None, "uri": uri(number),
        "page": number, "page_size": size, "start": number * size,
        "end": number * size + max(0, len(chunk) - 1),
    }
