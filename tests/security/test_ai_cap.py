"""The tenant's AI cap holds at the socket, not only at the admin API."""
from __future__ import annotations

import pytest

from conference.media.ai_cap import LocalAiGate
from conference.twilio.security import make_stream_token

from .attack_server import close_code, http_get, start_message, upgrade

pytestmark = pytest.mark.slow
SECRET = "attack-secret"


def ai_params(call_sid: str, cap: int) -> dict:
    token = make_stream_token(SECRET, {"conference": "capped", "tenant": 7, "kind": "ai",
                                       "label": "ai", "call": call_sid, "cap": cap})
    return {"conference": "capped", "tenant": "7", "agent": "default", "mode": "speak",
            "coach": "", "token": token}


def test_an_ai_socket_over_the_tenant_cap_is_closed_1008(forkline):
    calls = [f"CA{i:032x}" for i in range(1, 4)]
    live = []
    for call in calls[:2]:
        s = upgrade(forkline, "/twilio/ai-stream")
        s.sendall(start_message(call, ai_params(call, cap=2)))
        live.append(s)
    over = upgrade(forkline, "/twilio/ai-stream")
    over.sendall(start_message(calls[2], ai_params(calls[2], cap=2)))
    assert close_code(over) == 1008
    assert forkline.healthz() == 200
    status, body = http_get(forkline.base + "/metrics")
    assert status == 200 and b"forkline_media_ai_cap_refused_total 1.0" in body
    for s in [*live, over]:
        s.close()


def test_a_reconnect_of_a_live_call_counts_once():
    gate = LocalAiGate()
    assert gate.acquire("1", "CA1", 1) and gate.acquire("1", "CA1", 1)  # the call reconnects
    assert not gate.acquire("1", "CA2", 1)
    gate.release("1", "CA1")  # the older socket ends; the new one is still live
    assert not gate.acquire("1", "CA2", 1)
    gate.release("1", "CA1")
    assert gate.acquire("1", "CA2", 1)
