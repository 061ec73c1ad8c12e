"""Stream tokens open only the stream of the call they were minted for."""
from __future__ import annotations

import pytest

from conference.twilio.security import make_stream_token

from .attack_server import close_code, start_message, upgrade

pytestmark = pytest.mark.slow
SECRET = "attack-secret"  # FORKLINE_SECRET_KEY of the attack server
VICTIM_CALL, ATTACKER_CALL = "CA" + "1" * 32, "CA" + "2" * 32


def params(kind: str, tenant: int, **claims) -> dict:
    token = make_stream_token(SECRET, {"conference": "room", "tenant": tenant, "kind": kind,
                                       "label": "ai" if kind == "ai" else "customer", **claims})
    return {"conference": "room", "tenant": str(tenant), "label": "customer",
            "role": "customer", "agent": "default", "mode": "speak", "coach": "",
            "token": token}


@pytest.mark.parametrize(("path", "kind"), [("/twilio/ai-stream", "ai"), ("/twilio/fork", "fork")])
def test_a_token_for_another_call_is_refused_1008(forkline, path, kind):
    s = upgrade(forkline, path)
    s.sendall(start_message(VICTIM_CALL, params(kind, 2, call=ATTACKER_CALL)))
    assert close_code(s) == 1008
    s.close()


@pytest.mark.parametrize(("path", "kind"), [("/twilio/ai-stream", "ai"), ("/twilio/fork", "fork")])
def test_a_token_bound_to_no_call_opens_no_stream(forkline, path, kind):
    # The AI's dial address carries a call-less token (for the Voice URL lookup only).
    s = upgrade(forkline, path)
    s.sendall(start_message(VICTIM_CALL, params(kind, 1)))
    assert close_code(s) == 1008
    s.close()


def test_an_old_token_cannot_reconnect_after_the_reconnect_window(forkline):
    old = make_stream_token(SECRET, {"conference": "room", "tenant": 1, "kind": "ai",
                                     "label": "ai", "call": VICTIM_CALL}, issued_at=1)
    s = upgrade(forkline, "/twilio/ai-stream")
    s.sendall(start_message(VICTIM_CALL, {**params("ai", 1), "token": old}))
    assert close_code(s) == 1008
    s.close()
