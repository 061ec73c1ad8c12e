"""A small Twilio REST stand-in: records every request, checks it against the OpenAPI spec,
answers with spec-shaped JSON, and can be scripted to refuse a request with a Twilio error.

The real twilio SDK talks to it over HTTP (through `TwilioGateway`, pointed at `fake.url`).
"""
from __future__ import annotations

import base64
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import twilio_fake_shapes as shapes
import twilio_spec
from twilio_fake_rules import ConferenceRules, FakeError


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    operation_id: str | None
    params: dict[str, list[str]]
    status: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def form(self) -> dict[str, str]:
        """Single-valued view of the params (the last value of repeated keys)."""
        return {k: v[-1] for k, v in self.params.items()}

    def __repr__(self) -> str:
        return f"<{self.method} {self.operation_id} {self.form}>"


TwilioError = FakeError  # a scripted or state-driven refusal, rendered as Twilio's error JSON


class FakeTwilio(ConferenceRules):
    """Holds conferences, participants, calls and streams; one instance per test.

    As strict as the simulator (twilio_fake_rules); `lenient` relaxes rules by the simulator's
    names ("coach", "labels", "stream-names", "redirect-leaves"). Participants stay `queued`
    until a test calls `join(call_sid)` (what the participant-join callback reports).
    """

    def __init__(self, account_sid: str, auth_token: str, lenient=()) -> None:
        self.lenient = frozenset(lenient)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.conferences: dict[str, dict] = {}  # CF sid -> conference
        self.participants: dict[str, dict] = {}  # CA sid -> participant
        self.calls: dict[str, dict] = {}  # CA sid -> call
        self.streams: dict[str, dict] = {}  # MZ sid -> stream
        self._failures: dict[str, list[TwilioError]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeTwilio:
        """Serve on an ephemeral port in a daemon thread."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        # shutdown() waits for the serve loop's next poll: 0.5 s by default, per test.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        """Base URL to give the SDK (TWILIO_API_URL)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting and inspection ------------------------------------------------------------
    def fail_next(self, operation_id: str, code: int, message: str, status: int = 400) -> None:
        """Make the next `operation_id` request fail with Twilio error `code`."""
        self._failures.setdefault(operation_id, []).append(TwilioError(code, message, status))

    def fail_nth(self, operation_id: str, n: int, code: int, message: str, status: int = 400):
        """Let n-1 `operation_id` requests through, then fail the n-th with `code`."""
        queue = self._failures.setdefault(operation_id, [])
        queue.extend([None] * (n - 1 - len(queue)))
        queue.append(TwilioError(code, message, status))

    def add_call(self, call_sid: str, to: str = "+15551230000") -> None:
        """Register a live call that did not start through the REST API (an inbound call)."""
        self.calls[call_sid] = {"sid": call_sid, "to": to, "from": "+15550001111",
                                "status": "in-progress", "direction": "inbound"}

    def ops(self) -> list[str]:
        """The operationIds received so far, in order."""
        return [r.operation_id or f"{r.method} {r.path}" for r in self.requests]

    def take(self) -> list[Recorded]:
        """The requests received since the last take()."""
        with self._lock:
            out, self.requests = self.requests, []
        return out

    def new_sid(self, prefix: str) -> str:
        """A unique, well-formed sid (e.g. CA + 32 hex digits)."""
        return f"{prefix}{next(self._ids):032x}"

    # -- dispatch ----------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, body: str, auth: str) -> tuple[int, dict | None]:
        """Record, validate and answer one request."""
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        params = parse_qs(body if method == "POST" else parts.query, keep_blank_values=True)
        op, _ = twilio_spec.find_operation(method, parts.path)
        rec = Recorded(method, path, op.operation_id if op else None, params)
        rec.violations = twilio_spec.validate_request(method, parts.path, params)
        with self._lock:
            self.requests.append(rec)
            status, payload = self._answer(rec, op, auth)
            rec.status = status
            if op is not None and status < 400:
                rec.violations += twilio_spec.validate_response(op, status, payload)
            self.violations += [f"{rec.operation_id or path}: {v}" for v in rec.violations]
        return status, payload

    def _answer(self, rec: Recorded, op, auth: str) -> tuple[int, dict | None]:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if auth != f"Basic {expected}":
            return _error(TwilioError(20003, "Authenticate", 401))
        if rec.violations or op is None:
            return _error(TwilioError(21000, "; ".join(rec.violations) or "unknown path"))
        queued = self._failures.get(op.operation_id)
        if queued:
            failure = queued.pop(0)  # None lets this request through (see fail_nth)
            if failure is not None:
                return _error(failure)
        handler = getattr(self, "_op_" + op.operation_id, None)
        if handler is None:
            rec.violations.append(f"fake does not implement {op.operation_id}")
            return _error(TwilioError(20500, "not implemented", 500))
        try:
            return handler(op.path_params, rec.form, rec.params)
        except TwilioError as exc:
            return _error(exc)

    # -- resources ---------------------------------------------------------------------------
    def _conference(self, key: str, create: bool = False) -> dict:
        if key.startswith("CF"):
            conf = self.conferences.get(key)
            if conf is None or conf["status"] == "completed":
                raise TwilioError(20404, f"The requested resource {key} was not found", 404)
            return conf
        for conf in self.conferences.values():
            if conf["friendly_name"] == key and conf["status"] != "completed":
                return conf
        if not create:
            raise TwilioError(20404, f"Conference {key} was not found", 404)
        sid = self.new_sid("CF")
        self.conferences[sid] = {"sid": sid, "friendly_name": key, "status": "init"}
        return self.conferences[sid]

    def _participant(self, conf: dict, key: str) -> dict:
        for p in self.participants.values():
            if p["conference_sid"] == conf["sid"] and key in (p["call_sid"], p["label"]):
                return p
        raise TwilioError(20404, f"Participant {key} was not found", 404)

    def _op_CreateParticipant(self, path, form, params):
        conf = self._conference(path["ConferenceSid"], create=True)
        label = form.get("Label")
        self.check_label(conf, label)
        coached = form.get("CallSidToCoach")
        # Coaching "defaults to false unless call_sid_to_coach is defined" (Participants create)
        coaching = form.get("Coaching", "true" if coached else "false") == "true"
        if coaching:
            self.check_coach(conf, coached)
        call_sid = self.new_sid("CA")
        self.calls[call_sid] = {"sid": call_sid, "to": form["To"], "from": form["From"],
                                "status": "queued", "direction": "outbound-api"}
        self.participants[call_sid] = {
            "call_sid": call_sid, "conference_sid": conf["sid"], "label": label,
            "muted": form.get("Muted") == "true", "hold": False, "coaching": coaching,
            "call_sid_to_coach": coached if coaching else None, "status": "queued",
            "to": form["To"], "params": params,
            "end_conference_on_exit": form.get("EndConferenceOnExit") == "true",
        }
        body = shapes.participant(self.account_sid, self.participants[call_sid], queue_time="1000")
        return 201, body

    def _op_UpdateParticipant(self, path, form, params):
        conf = self._conference(path["ConferenceSid"])
        p = self._participant(conf, path["CallSid"])
        coaching = form.get("Coaching", "true" if p["coaching"] else "false") == "true"
        if coaching and ("Coaching" in form or "CallSidToCoach" in form):
            self.check_coach(conf, form.get("CallSidToCoach", p["call_sid_to_coach"]))
        for key, field_ in (("Muted", "muted"), ("Hold", "hold"), ("Coaching", "coaching"),
                            ("EndConferenceOnExit", "end_conference_on_exit")):
            if key in form:
                p[field_] = form[key] == "true"
        if "CallSidToCoach" in form:
            p["call_sid_to_coach"] = form["CallSidToCoach"]
        if not p["coaching"]:
            p["call_sid_to_coach"] = None
        return 200, shapes.participant(self.account_sid, p)

    def _op_DeleteParticipant(self, path, form, params):
        p = self._participant(self._conference(path["ConferenceSid"]), path["CallSid"])
        self.leave(p["call_sid"])
        return 204, None

    def _op_UpdateConference(self, path, form, params):
        conf = self._conference(path["Sid"])
        if form.get("Status") == "completed":
            conf["status"] = "completed"
            for sid in [s for s, p in self.participants.items()
                        if p["conference_sid"] == conf["sid"]]:
                self.calls[sid]["status"] = "completed"
                del self.participants[sid]
        return 200, shapes.conference(self.account_sid, conf)

    def _op_UpdateCall(self, path, form, params):
        call = self._live_call(path["Sid"])
        if form.get("Status") in ("completed", "canceled"):
            call["status"] = form["Status"]
            if call["sid"] in self.participants:
                self.leave(call["sid"], form["Status"])
        elif ("Url" in form or "Twiml" in form) and call["sid"] in self.participants \
                and self.strict("redirect-leaves"):
            # New TwiML takes a participant out of its conference (conference-participant-
            # resource lists no "modified to use new TwiML" participant); the call goes on.
            self.leave(call["sid"], call_status=None)
        return 200, shapes.call(self.account_sid, call)

    def _op_CreateStream(self, path, form, params):
        call = self._live_call(path["CallSid"])
        name = form.get("Name")
        # Unique per call, live or ended, as in the simulator (code UNVERIFIED: 20001).
        if name and any(s["name"] == name and s["call_sid"] == call["sid"]
                        and (s["status"] == "in-progress" or self.strict("stream-names"))
                        for s in self.streams.values()):
            raise TwilioError(20001, f"A stream named {name} was already used on this call")
        sid = self.new_sid("MZ")
        self.streams[sid] = {"sid": sid, "call_sid": call["sid"], "name": name,
                             "status": "in-progress", "params": params}
        return 200, shapes.stream(self.account_sid, self.streams[sid])

    def _op_UpdateStream(self, path, form, params):
        for s in self.streams.values():
            if s["call_sid"] == path["CallSid"] and path["Sid"] in (s["sid"], s["name"]):
                s["status"] = "stopped"
                return 200, shapes.stream(self.account_sid, s)
        raise TwilioError(20404, f"Stream {path['Sid']} was not found", 404)

    def _live_call(self, sid: str) -> dict:
        call = self.calls.get(sid)
        if call is None:
            raise TwilioError(20404, f"Call {sid} was not found", 404)
        if call["status"] in ("completed", "canceled", "failed", "busy", "no-answer"):
            raise TwilioError(21220, "Call is not in-progress. Cannot redirect.")
        return call


def _error(err: TwilioError) -> tuple[int, dict]:
    return err.status, {"code": err.code, "message": err.message,
                        "more_info": f"https://www.twilio.com/docs/errors/{err.code}",
                        "status": err.status}


class _Handler(BaseHTTPRequestHandler):
    """Adapts http.server to FakeTwilio.handle."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        fake: FakeTwilio = self.server.fake  # type: ignore[attr-defined]
        status, payload = fake.handle(self.command, self.path, body,
                                      self.headers.get("Authorization", ""))
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format, *args) -> None:  # noqa: A002 - quiet test output
        pass
