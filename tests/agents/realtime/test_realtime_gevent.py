"""The Realtime session under gevent monkey patching, as gunicorn's gevent worker runs it.

The client runs in a patched subprocess; the fake in an unpatched one (its asyncio loop must not
share a hub with the code under test).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import last_json_line, run_python

ROOT = Path(__file__).resolve().parents[3]

DRIVER = r"""
from gevent import monkey; monkey.patch_all()
import json, sys, time, gevent
from agents.base import AgentProfile, AudioOut, ResponseDone
from agents.realtime import RealtimeSession
from tests.fakes.realtime_server import silence_ulaw, tone_ulaw

ticks = []
def ticker():  # proves the hub keeps running while the session reads and writes
    while True:
        ticks.append(time.monotonic()); gevent.sleep(0.01)
gevent.spawn(ticker)
settings = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": sys.argv[1]}
session = RealtimeSession(AgentProfile(), settings)
session.connect()
audio = tone_ulaw(400) + silence_ulaw(700)
for i in range(0, len(audio), 160):
    session.send_audio(audio[i:i + 160]); gevent.sleep(0.002)
got, status = 0, None
while status is None:
    event = session.next_event(timeout=10)
    if event is None: break
    if isinstance(event, AudioOut): got += len(event.ulaw)
    if isinstance(event, ResponseDone): status = event.status
session.close()
gaps = [b - a for a, b in zip(ticks, ticks[1:])]
print(json.dumps({"audio": got, "status": status, "max_gap": max(gaps), "ticks": len(ticks)}))
"""


@pytest.mark.slow
def test_session_works_under_gevent_monkey_patching():
    with subprocess.Popen([sys.executable, "-m", "tests.fakes.realtime_server"], cwd=ROOT,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as fake:
        base_url = fake.stdout.readline().strip()
        report = last_json_line(run_python("-c", DRIVER, base_url, timeout=60))
        assert report["status"] == "completed"
        assert report["audio"] == 8000  # the fake's 1 s reply, byte for byte
        assert report["max_gap"] < 0.5  # no greenlet starved the hub for long
        fake.stdin.close()  # the fake serves until stdin closes
