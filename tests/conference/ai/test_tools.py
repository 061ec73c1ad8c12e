"""AI tool calls against the spec-checked fake Twilio: what each does, and that each is recorded."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from agents.base import AgentProfile, ToolCall
from agents.echo import EchoSession
from conference.ai.tools import handle_tool_call
from conference.media.live_call import LiveCall
from conference.media.registry import get_plane
from models import Participant, get_session
from models.agent import ToolCallRecord
from twilio_sim.testing import wait_for

HUMAN = "+15551119999"


def join(twilio, conf_sid, call_sid, label, seq, side=None):
    """A signed participant-join conference callback (mirrored into the fake by `side`)."""
    if side is not None:
        side.join(call_sid)
    r = twilio.post("/twilio/conference-events", {
        "ConferenceSid": conf_sid, "FriendlyName": "x", "AccountSid": "AC" + "0" * 32,
        "StatusCallbackEvent": "participant-join", "SequenceNumber": str(seq),
        "CallSid": call_sid, "ParticipantLabel": label, "Muted": "false", "Hold": "false",
        "Coaching": "false", "Timestamp": "Wed, 25 Nov 2026 12:00:00 +0000"})
    assert r.status_code == 204


@pytest.fixture
def call(api, twilio, fake_twilio, tenant, fake_side):
    """A live conference `c1` (customer, optionally an agent) with the AI speaking in it."""
    def make(with_agent: bool = False) -> dict:
        people = [{"to": "+15551110001", "role": "customer", "label": "customer"}]
        if with_agent:
            people.append({"to": "+15551110002", "role": "agent", "label": "agent"})
        r = api.post("/conferences", {"name": "c1", "participants": people})
        conf_sid = r.json["twilio_sid"]
        for seq, p in enumerate(r.json["participants"], 1):
            join(twilio, conf_sid, p["call_sid"], p["label"], seq, fake_side)
        ai = api.put("/conferences/c1/ai", {"agent": "default", "mode": "speak"}).json
        join(twilio, conf_sid, ai["call_sid"], "ai", 9, fake_side)
        fake_twilio.take()
        return {"tenant_id": tenant[0], "conference": "c1", "ai_call_sid": ai["call_sid"],
                "conf_sid": conf_sid, "end_grace_s": 0}
    return make


def records(app) -> list[ToolCallRecord]:
    """Every recorded tool call."""
    with app.app_context():
        return list(get_session().scalars(sa.select(ToolCallRecord).order_by(ToolCallRecord.id)))


@pytest.mark.parametrize("name,arguments", [
    ("transfer_to_human", {}), ("transfer_to_human", {"reason": 7}),
    ("whisper_to_agent", {"text": "hi", "extra": "x"}), ("lookup", {"query": "   "}),
    ("format_disk", {})])
def test_invalid_calls_are_rejected_and_change_nothing(twilio_app, fake_twilio, call, name,
                                                       arguments):
    ctx = call(with_agent=True)
    result = handle_tool_call(twilio_app, ctx, ToolCall("call_1", name, arguments))
    assert result["ok"] is False and result["error"]
    assert fake_twilio.take() == []
    (row,) = records(twilio_app)
    assert (row.name, row.status, row.arguments, row.result) == (name, "rejected", arguments,
                                                                 result)
    assert row.conference_id is not None and row.call_sid == ctx["ai_call_sid"]


def test_tool_outside_the_profile_is_rejected(twilio_app, fake_twilio, call):
    ctx = dict(call(), tools=["lookup"])
    result = handle_tool_call(twilio_app, ctx, ToolCall("call_1", "end_call", {}))
    assert result["ok"] is False and fake_twilio.take() == []


def test_end_call_with_only_the_customer_ends_the_conference(twilio_app, fake_twilio, call):
    ctx = call()
    assert handle_tool_call(twilio_app, ctx, ToolCall("c", "end_call", {})) == {
        "ok": True, "ended": "conference"}
    (q,) = fake_twilio.take()
    assert q.operation_id == "UpdateConference" and q.form == {"Status": "completed"}
    assert records(twilio_app)[0].status == "ok"


def test_end_call_with_an_agent_present_only_removes_the_ai(twilio_app, fake_twilio, call):
    ctx = call(with_agent=True)
    result = handle_tool_call(twilio_app, ctx, ToolCall("c", "end_call", {}))
    assert result == {"ok": True, "ended": "ai"}
    (q,) = fake_twilio.take()
    assert q.operation_id == "DeleteParticipant" and q.path.endswith(
        f"/Participants/{ctx['ai_call_sid']}.json")


def test_warm_transfer_dials_waits_briefs_by_whisper_then_listens(twilio_app, fake_twilio,
                                                                  twilio, call, fake_side):
    ctx = dict(call(), transfer_to=HUMAN, join_timeout_s=10, briefing_s=0.2)
    out = {}
    worker = threading.Thread(target=lambda: out.update(handle_tool_call(
        twilio_app, ctx, ToolCall("c", "transfer_to_human", {"reason": "billing dispute"}))))
    worker.start()

    def human_call_sid():
        with twilio_app.app_context():
            session = get_session()
            sid = session.scalar(sa.select(Participant.call_sid).where(
                Participant.label == "human-agent"))
            session.rollback()
            return sid
    join(twilio, ctx["conf_sid"], wait_for(human_call_sid), "human-agent", 10, fake_side)
    worker.join(15)
    assert out["ok"] is True and "billing dispute" in out["instructions"]
    def participant_ops():  # the new agent's fork (CreateStream) is not ours to check
        return [q for q in fake_twilio.requests if q.operation_id != "CreateStream"]
    wait_for(lambda: len(participant_ops()) >= 3)
    dial, whisper, listen = participant_ops()
    assert dial.operation_id == "CreateParticipant"
    assert (dial.form["To"], dial.form["Label"]) == (HUMAN, "human-agent")
    assert whisper.operation_id == "UpdateParticipant"
    assert (whisper.form["Coaching"], whisper.form["CallSidToCoach"]) == ("true",
                                                                          human_call_sid())
    assert listen.form == {"Muted": "true", "Coaching": "false"}
    assert records(twilio_app)[0].status == "ok"


def test_transfer_nobody_answers(twilio_app, fake_twilio, call):
    ctx = dict(call(), transfer_to=HUMAN, join_timeout_s=0.3)
    result = handle_tool_call(twilio_app, ctx, ToolCall("c", "transfer_to_human",
                                                        {"reason": "x"}))
    assert result["ok"] is False
    assert [q.operation_id for q in fake_twilio.take()] == ["CreateParticipant",
                                                             "DeleteParticipant"]
    assert records(twilio_app)[0].status == "error"


def test_transfer_without_a_configured_agent(twilio_app, fake_twilio, call):
    result = handle_tool_call(twilio_app, call(), ToolCall("c", "transfer_to_human",
                                                           {"reason": "x"}))
    assert result["ok"] is False and fake_twilio.take() == []


def test_whisper_to_agent_coaches_then_restores_speak(twilio_app, fake_twilio, call):
    ctx = dict(call(with_agent=True), briefing_s=0.1)
    result = handle_tool_call(twilio_app, ctx, ToolCall("c", "whisper_to_agent",
                                                        {"text": "Offer the refund."}))
    assert result["ok"] is True and result["coached"] == "agent"
    wait_for(lambda: len(fake_twilio.requests) >= 2)
    whisper, back = fake_twilio.take()
    assert whisper.form["Coaching"] == "true"
    assert back.form == {"Muted": "false", "Coaching": "false"}


class _Webhook(BaseHTTPRequestHandler):
    """The tenant's lookup service; what it was sent is kept on its server, per test."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.seen.append((self.headers["X-Forkline-Signature"], body,
                                 self.headers.get("X-Forkline-Signature-Previous")))
        payload = json.dumps({"order": "42", "status": "shipped"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def _lookup(app, ctx) -> tuple[dict, list]:
    """Run the lookup tool against a local webhook; (tool result, what the webhook saw)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Webhook)
    server.seen = []
    # shutdown() waits for the serve loop's next poll: 0.5 s by default, per call.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                     daemon=True).start()
    try:
        ctx = dict(ctx, lookup_url=f"http://127.0.0.1:{server.server_port}/hook")
        result = handle_tool_call(app, ctx, ToolCall("c", "lookup", {"query": "order 42"}))
    finally:
        server.shutdown()
        server.server_close()
    return result, server.seen


def _hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_lookup_posts_a_query_signed_with_the_tenants_secret(twilio_app, api, call):
    twilio_app.config["TOOL_SIGNING_KEY"] = "tool-key"
    secret = api.post("/tool-secret/rotate").json["secret"]
    result, seen = _lookup(twilio_app, call())
    assert result == {"ok": True, "result": {"order": "42", "status": "shipped"}}
    (signature, body, previous), = seen
    assert json.loads(body)["query"] == "order 42"
    assert signature == _hmac(secret, body) and previous is None
    assert secret != twilio_app.config["SECRET_KEY"]  # never the stream-token key


def test_a_rotation_signs_with_the_new_secret_and_the_old_one_during_the_overlap(
        twilio_app, api, call):
    twilio_app.config["TOOL_SIGNING_KEY"] = "tool-key"
    old = api.post("/tool-secret/rotate").json["secret"]
    new = api.post("/tool-secret/rotate").json["secret"]
    assert new != old
    ctx = call()
    _, [(signature, body, previous)] = _lookup(twilio_app, ctx)
    # A receiver still holding the old secret verifies the second header until it switches.
    assert signature == _hmac(new, body) and previous == _hmac(old, body)
    twilio_app.config["TOOL_SECRET_OVERLAP_S"] = 0.0  # the overlap is over
    _, [(signature, body, previous)] = _lookup(twilio_app, ctx)
    assert signature == _hmac(new, body) and previous is None


def test_lookup_without_an_issued_secret_signs_nothing(twilio_app, call):
    twilio_app.config["TOOL_SIGNING_KEY"] = "tool-key"
    result, seen = _lookup(twilio_app, call())
    assert result["ok"] is False and "secret" in result["error"] and seen == []


def test_lookup_unreachable_is_a_tool_error(twilio_app, call):
    twilio_app.config["TOOL_SIGNING_KEY"] = "tool-key"
    ctx = dict(call(), lookup_url="http://127.0.0.1:9/hook")
    result = handle_tool_call(twilio_app, ctx, ToolCall("c", "lookup", {"query": "x"}))
    assert result["ok"] is False
    assert records(twilio_app)[0].status == "error"


def live_ai(app, ctx, profile=None) -> LiveCall:
    """A real LiveCall of the AI leg, registered in this worker's media plane (no socket)."""
    plane = get_plane(app)
    live = LiveCall(plane, ctx["ai_call_sid"], {"tenant": str(ctx["tenant_id"]),
                                                "conference": ctx["conference"], "coach": ""})
    live.session = EchoSession(profile or AgentProfile(), {})
    plane.calls[live.call_sid] = live
    return live


def test_the_live_call_gives_the_handler_its_profile_tools(twilio_app, fake_twilio, call):
    ctx = call()
    live = live_ai(twilio_app, ctx, AgentProfile(tools=("lookup",)))
    try:
        result = handle_tool_call(twilio_app, live.tool_context(), ToolCall("c", "end_call", {}))
    finally:
        get_plane(twilio_app).calls.pop(live.call_sid)
    assert result["ok"] is False  # end_call is not among this profile's tools
    (row,) = records(twilio_app)
    assert (row.status, row.call_sid) == ("rejected", ctx["ai_call_sid"])


class ScriptedTracker:
    """Replaces a LiveCall's playout tracker: says whether the AI is audible."""

    def __init__(self) -> None:
        self.speaking = False
        self.polls = 0

    def is_speaking(self, now_ms: float) -> bool:
        self.polls += 1
        return self.speaking


def test_whisper_reverts_only_after_the_whisper_has_played(twilio_app, fake_twilio, call):
    ctx = call(with_agent=True)
    tracker = ScriptedTracker()
    live = live_ai(twilio_app, ctx, AgentProfile(tools=("whisper_to_agent",)))
    live.tracker = tracker  # the media plane asks the call's own tracker whether it is audible
    result = handle_tool_call(twilio_app, live.tool_context(),
                              ToolCall("c", "whisper_to_agent", {"text": "Refund it."}))
    assert result["ok"] is True
    (whisper,) = fake_twilio.take()
    assert whisper.form["Coaching"] == "true"
    wait_for(lambda: tracker.polls >= 3)  # waiting for the AI to start the whisper
    tracker.speaking = True
    polls = tracker.polls
    wait_for(lambda: tracker.polls >= polls + 3)  # the whisper is playing: stay coached
    assert fake_twilio.take() == []
    tracker.speaking = False
    back = wait_for(fake_twilio.take)
    assert back[0].form == {"Muted": "false", "Coaching": "false"}
