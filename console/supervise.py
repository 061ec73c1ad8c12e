"""Whisper and barge from the browser: WebSocket /console/supervise/<conference>.

Opening the socket dials the signed-in user into the conference as an `app:` leg (muted,
listening); binary messages from the browser are its microphone (160-byte 20 ms mu-law
frames), binary messages to it are what the leg hears, text messages are JSON notices
(`dialing`, `connected`, `ended`, `error`). Modes switch with POST …/browser/mode (CSRF), through
the phone supervisor's service call. Closing the socket (leaving the page, closing the tab,
losing the connection) removes the leg. The socket's handler is its only sender.
"""
from __future__ import annotations

import contextlib
import json
import threading
import time

from flask import current_app, g, jsonify, request
from flask_login import current_user
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from conference import service
from conference.logs import get_logger
from conference.media import facade
from console.blueprint import bp
from console.listen import live_socket_conference
from models import get_session

sock = Sock()
log = get_logger("console.supervise")
CONNECT_TIMEOUT_S = 20.0  # dialed but no stream by then: tell the browser and give up
IDLE_CHECK_S = 1.0


@bp.before_request
def _supervise_checks():
    conf = live_socket_conference("console.supervise")
    if conf is None:
        return
    g.supervise = (current_user.tenant_id, conf.name, int(current_user.id))
    get_session().close()  # the socket lives long; hold no connection while it does


class BrowserSupervisor:
    """One console socket and the conference leg it owns."""

    def __init__(self, ws, app, tenant_id: int, name: str, user_id: int) -> None:
        self.ws, self.app = ws, app
        self.tenant_id, self.name, self.user_id = tenant_id, name, user_id
        self.label = service.browser_label(user_id)
        self.relay: facade.MicRelay | None = None
        self.end: facade.BrowserEnd | None = None  # reached from another worker's stream
        self.dialed = False

    def run(self) -> None:
        """Open the relay, dial, then relay until either side goes."""
        self.relay = facade.open_relay(self.app, self.tenant_id, self.name, self.label)
        if self.relay is None:
            self._send_json({"type": "error", "code": "already_supervising",
                             "message": "you are already supervising this conference "
                                        "from another page"})
            return
        try:
            self.end = facade.relay_across_workers(self.app, self.relay, self.tenant_id,
                                                   self.name, self.label)
            self._dial()
            if self.dialed:
                threading.Thread(target=self._read_microphone, daemon=True).start()
                self._send_loop()
        except ConnectionClosed:
            pass
        finally:
            if self.dialed:
                self._remove()  # out of the conference first, then the stream ends
            if self.end is not None:
                self.end.stop()
            facade.close_relay(self.app, self.tenant_id, self.name, self.label, self.relay)
            facade.count_relay(self.relay)

    def _dial(self) -> None:
        try:
            service.add_browser_supervisor(self.tenant_id, self.name, self.user_id)
        except service.ServiceError as exc:
            self._send_json({"type": "error", **exc.to_dict()["error"]})
            return
        finally:
            get_session().close()
        self.dialed = True
        self._send_json({"type": "dialing", "label": self.label})

    def _send_loop(self) -> None:
        relay, ws = self._relay(), self.ws
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while ws.connected and not relay.ended:
            notices, chunks = relay.take(IDLE_CHECK_S)
            for notice in notices:
                self._send_json(notice)
            for chunk in chunks:
                ws.send(chunk)
            if self.end is not None:
                self.end.settle()
            if not relay.twilio_attached and time.monotonic() > deadline:
                self._send_json({"type": "error", "code": "no_stream",
                                 "message": "the supervisor leg did not connect"})
                return
        for notice in list(relay.notices):  # `ended` after the loop saw relay.ended
            self._send_json(notice)

    def _read_microphone(self) -> None:
        # The only reader; it never writes to the socket.
        relay = self._relay()
        try:
            while not relay.ended:
                message = self.ws.receive()
                if message is None:
                    break
                if isinstance(message, bytes):
                    relay.from_browser(message)
        except ConnectionClosed:
            pass
        relay.close()  # the browser is gone: the sender loop ends, the leg is removed

    def _relay(self) -> facade.MicRelay:
        assert self.relay is not None  # run() opened it
        return self.relay

    def _send_json(self, notice: dict) -> None:
        self.ws.send(json.dumps(notice))

    def _remove(self) -> None:
        try:
            service.remove_browser_supervisor(self.tenant_id, self.name, self.user_id)
        except service.ServiceError as exc:
            log.warning("could not remove the browser supervisor: %s", exc.message,
                        extra={"conference": self.name, "label": self.label})
        finally:
            get_session().close()


@sock.route("/supervise/<name>", bp=bp)
def supervise(ws, name: str) -> None:
    """The browser supervisor's socket: its leg lives as long as this socket."""
    tenant_id, conf_name, user_id = g.supervise
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    BrowserSupervisor(ws, app, tenant_id, conf_name, user_id).run()
    with contextlib.suppress(Exception):
        ws.close()


@bp.post("/conferences/<name>/browser/mode")
def browser_mode(name: str):
    """Switch this user's browser leg between listen, whisper (coaching `coach`) and barge."""
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    mode, coach = body.get("mode"), body.get("coach") or None
    if not isinstance(mode, str) or (coach is not None and not isinstance(coach, str)):
        return jsonify({"error": {"code": "validation_failed",
                                  "message": "request failed validation",
                                  "fields": {"mode": "required string"}}}), 422
    p = service.set_supervisor_mode(current_user.tenant_id, name,
                                    service.browser_label(int(current_user.id)), mode, coach,
                                    from_browser=True)
    return jsonify({"ok": True, "mode": p.mode, "muted": p.muted, "coaching": p.coaching,
                    "coach": p.coach_label, "pending": p.pending_coach})
