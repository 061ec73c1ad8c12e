"""Live-listen across hosts: two Procfile gunicorn servers share PostgreSQL and Redis; Twilio
(the strict simulator) talks only to server A, so the customer's fork lives there, and the
supervisor's listen socket lands on server B. B hears the leg through the Redis relay, which
A carries only while B's listener is registered.
"""
from __future__ import annotations

import contextlib

import pytest
import redis
import requests
from simple_websocket import Client
from support.browser import goertzel
from support.console import PASSWORD, csrf_token

from agents.audio import ulaw_to_pcm16
from conference.media.relay import WANT
from twilio_sim.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
PHONES = {"customer": "+15550302001", "agent": "+15550302002"}
TONE_HZ = 1000.0
TIMEOUT = 30.0


def signed_in(base: str) -> requests.Session:
    """A requests session signed in to the console of server `base`."""
    http = requests.Session()
    token = csrf_token(http.get(f"{base}/console/signin", timeout=10).text)
    r = http.post(f"{base}/console/signin", timeout=10, allow_redirects=False, data={
        "tenant": "e2e", "email": "sup@e2e.test", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302, r.text
    return http


def has_tone(ulaw: bytes) -> bool:
    """`ulaw` (20 ms or more) is dominated by the test tone."""
    pcm = ulaw_to_pcm16(ulaw)
    samples = [int.from_bytes(pcm[i:i + 2], "little", signed=True) / 32768
               for i in range(0, len(pcm) - 1, 2)]
    loud = max((abs(x) for x in samples), default=0.0) > 0.05
    return loud and goertzel(samples, TONE_HZ) > 20 * goertzel(samples, TONE_HZ + 700)


def test_a_listener_on_server_b_hears_a_leg_living_on_server_a(relay_stack):
    live, name = relay_stack, "e2e-relay"
    a, b = live.servers["forkline"], live.servers["forkline-b"]
    live.api.call("POST", "/api/conferences", {"name": name, "participants": [
        {"to": PHONES[label], "role": label, "label": label} for label in PHONES]})

    def forked():
        d = live.api.get(f"/api/conferences/{name}")
        customer = next(p for p in d["participants"] if p["label"] == "customer")
        return customer["call_sid"] if any(
            s["kind"] == "fork" and s["status"] == "started" and s["call_sid"] ==
            customer["call_sid"] for s in d["streams"]) else None
    call_sid = wait_for(forked, TIMEOUT, 0.1, "the customer's fork to start")
    hosts = {c["url"].split("/twilio/")[0] for c in live.sim.callbacks()}
    assert hosts == {a}  # Twilio only ever talked to A: the legs cannot be on B

    store = redis.Redis.from_url(live.stack.env["REDIS_URL"])
    assert store.zcard(WANT + call_sid) == 0  # nobody listens: A carries nothing
    http = signed_in(b)
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    # simple_websocket sends `Host: 127.0.0.1` (no port): the same-origin check compares that.
    ws = Client.connect(f"{b.replace('http', 'ws', 1)}/console/listen/{name}?leg=customer",
                        headers={"Cookie": cookie, "Origin": "http://127.0.0.1"})
    try:
        wait_for(lambda: store.zcard(WANT + call_sid) == 1, TIMEOUT, 0.05,
                 "B's listener to register with the relay")
        # The leg flows before the tone (silence, 20 ms a chunk): a live stream, not a replay.
        first = wait_for(lambda: ws.receive(timeout=1.0), TIMEOUT, 0, "B's first audio")
        assert len(first) == 160 and not has_tone(first)
        live.sim.tone(PHONES["customer"], TONE_HZ, 1000)
        heard: list[bool] = []

        def tone_arrived() -> bool:
            chunk = ws.receive(timeout=1.0)
            if chunk:
                heard.append(has_tone(chunk))
            return sum(heard) >= 10  # 200 ms of it, through A's fork, Redis and B's socket
        wait_for(tone_arrived, TIMEOUT, 0, "the customer's tone on B's socket")
    finally:
        with contextlib.suppress(Exception):
            ws.close()
    wait_for(lambda: store.zcard(WANT + call_sid) == 0, TIMEOUT, 0.05,
             "B's listener to withdraw (A stops carrying the leg)")
    live.api.call("POST", f"/api/conferences/{name}/end", ok=(200,))
