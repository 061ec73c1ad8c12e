"""Public URLs for callbacks and streams: from PUBLIC_URL (required outside development)."""
from __future__ import annotations

from flask import current_app, has_request_context, request

_WS = {"http": "ws", "https": "wss"}


def public_base() -> str:
    """The external base URL (no trailing slash), e.g. https://forkline.example.com."""
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        # Development only (production requires PUBLIC_URL): the request's own scheme and host,
        # which reflect X-Forwarded-* only from TRUSTED_PROXY_COUNT proxies (conference.security).
        return f"{request.scheme}://{request.host}"
    # Outside a request without PUBLIC_URL there is no way to know; callbacks will not arrive.
    return "http://localhost"


def http_url(path: str) -> str:
    """Absolute http(s) URL of `path` on this service."""
    return public_base() + path


def ws_url(path: str) -> str:
    """Absolute ws(s) URL of `path` (https -> wss, http -> ws)."""
    scheme, _, rest = public_base().partition("://")
    return f"{_WS.get(scheme, scheme)}://{rest}{path}"


def conference_events_url() -> str:
    """Where Twilio posts conference status callbacks."""
    return http_url("/twilio/conference-events")


def call_events_url() -> str:
    """Where Twilio posts call progress callbacks."""
    return http_url("/twilio/call-events")


def stream_events_url() -> str:
    """Where Twilio posts stream status callbacks."""
    return http_url("/twilio/stream-events")


def fork_url() -> str:
    """The fork socket (unidirectional streams of human legs)."""
    return ws_url("/twilio/fork")


def ai_stream_url() -> str:
    """The AI's bidirectional stream socket."""
    return ws_url("/twilio/ai-stream")


def supervisor_stream_url() -> str:
    """A browser supervisor's bidirectional stream socket."""
    return ws_url("/twilio/supervisor-stream")
