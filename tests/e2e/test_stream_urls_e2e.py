"""Issue 9, rule 7: Twilio accepts only wss:// stream URLs (twiml/stream#url, errors/31922).

The simulator refuses ws:// unless started with the development flag every other e2e stack
passes. Here it runs without it, in front of a Forkline whose PUBLIC_URL is plain http (so it
asks for ws:// streams): each stream fails at connect, the failure is visible in Forkline's
conference events, and the humans' calls stay up. That Forkline asks for wss:// under an https
PUBLIC_URL is shown on its TwiML in tests/conference/test_operator_flow.py and
tests/conference/webhooks/test_webhooks.py (a TLS server is not practical here).
"""
from __future__ import annotations

import pytest
from support.e2e_call import Call, events, joined, part

from twilio_sim.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
TIMEOUT = 20.0


def test_ws_stream_urls_are_refused_and_the_humans_stay(strict):
    """Forks and the AI's stream ask for ws://: the strict simulator fails each with 31922,
    Forkline records the stream errors, and neither human is hung up."""
    assert strict.sim.strictness()["allow_ws"] is False
    call = Call(strict, "strict-ws", "+15550308001", "+15550308002")
    try:
        call.create()
        d = call.until(lambda d: joined("customer")(d) and joined("agent")(d), "the humans")
        customer = part(d, "customer")["call_sid"]
        refused = wait_for(lambda: [s for s in call.sim_call(customer)["streams"].values()
                                    if (s["error"] or "").startswith("31922")], TIMEOUT, 0.05,
                           message="the customer's fork to be refused")
        assert all(s["media_sent"] == 0 for s in refused)  # never connected
        call.api.call("PUT", f"/api/conferences/{call.name}/ai",
                      {"agent": "default", "mode": "speak"}, ok=(200, 201))
        d = call.until(lambda d: part(d, "ai").get("call_sid"), "the AI to be dialed")
        ai_sid = part(d, "ai")["call_sid"]
        wait_for(lambda: any((s["error"] or "").startswith("31922")
                             for s in call.sim_call(ai_sid)["streams"].values()), TIMEOUT,
                 0.05, message="the AI's stream to be refused")
        d = call.until(lambda d: {e["call_sid"] for e in events(d, "stream-error")
                                  if e["payload"].get("StreamError", "").startswith("31922")}
                       >= {customer, ai_sid}, "Forkline to record both refusals")
        assert {label: part(d, label)["status"] for label in call.phones} == \
            {"customer": "joined", "agent": "joined"}  # nobody was hung up
        assert d["status"] != "completed"
        for label in call.phones:
            sid = part(d, label)["call_sid"]
            assert call.sim_call(sid)["status"] == "in-progress", label
    finally:
        call.end()
