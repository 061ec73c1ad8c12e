"""One Media Streams socket: its state, and opening it as Twilio does (a signed upgrade,
failures as Twilio's stream error codes)."""
from __future__ import annotations

import queue
import ssl
import threading
from collections import deque
from urllib.parse import urlsplit

from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from twilio_sim.media_protocol import StreamConnectError, StreamSession, signed_upgrade


class Link:
    """One socket's worth of state; a restart makes a new one, so old threads stay harmless."""

    def __init__(self, session: StreamSession) -> None:
        self.session = session
        self.ws: ClientConnection | None = None
        self.queue: queue.Queue = queue.Queue()
        self.closing = False  # no more messages may be queued
        self.closed = threading.Event()  # the socket is gone
        self.closed_by_app = False
        self.tick = 0
        self.last_due = 0.0
        self.inbox: deque = deque()  # (due, text): app messages still on their way to the ear
        self.last_arrival = 0.0


def open_socket(url: str, auth_token: str, open_timeout: float,
                ssl_context: ssl.SSLContext | None) -> ClientConnection:
    """Connect to the app's stream URL; StreamConnectError(3190x/3192x) on failure."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise StreamConnectError(31922, f"URL scheme not supported: {parts.scheme!r}")
    if not parts.hostname:
        raise StreamConnectError(31923, "malformed stream URL")
    _, signature = signed_upgrade(url, auth_token)
    try:
        return connect(url, additional_headers={"X-Twilio-Signature": signature},
                       open_timeout=open_timeout, compression=None, proxy=None,
                       user_agent_header="Twilio.TmeWs/1.0", max_size=2**24,
                       ping_interval=None, close_timeout=2.0,
                       ssl=ssl_context if parts.scheme == "wss" else None)
    except InvalidStatus as exc:
        status = exc.response.status_code
        raise StreamConnectError(31920, f"handshake answered HTTP {status}") from exc
    except (InvalidHandshake, InvalidURI) as exc:
        raise StreamConnectError(31920, f"handshake error: {exc}") from exc
    except ssl.SSLError as exc:
        raise StreamConnectError(31910, f"TLS error: {exc}") from exc
    except ConnectionRefusedError as exc:
        raise StreamConnectError(31902, "connection refused") from exc
    except TimeoutError as exc:
        raise StreamConnectError(31901, "connection timed out") from exc
    except OSError as exc:
        raise StreamConnectError(31902, f"connection failed: {exc}") from exc
