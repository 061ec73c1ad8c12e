"""bench/sim_load.py drives real Media Streams clients under gevent against any server."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sim_ws_app_server import AppServer
from twilio.request_validator import RequestValidator
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[3]


class EchoApp(AppServer):
    """Echoes every inbound frame back and sends a mark after each fifth one."""

    def __init__(self):
        self.marks_sent = self.media_sent = 0
        self.sent_marks: dict[str, list[str]] = {}  # streamSid -> mark names sent, in order
        self._count_lock = threading.Lock()
        super().__init__()

    def _handler(self, ws) -> None:
        sid, n = None, 0
        for text in ws:
            msg = json.loads(text)
            self.messages.put((0, msg))
            if msg["event"] == "start":
                sid = msg["streamSid"]
                self.sent_marks[sid] = []
            elif msg["event"] == "media":
                n += 1
                echo = {"event": "media", "streamSid": sid,
                        "media": {"payload": msg["media"]["payload"]}}
                if self._send(ws, "media_sent", echo) and n % 5 == 0 and self._send(
                        ws, "marks_sent", {"event": "mark", "streamSid": sid,
                                           "mark": {"name": f"m{n}"}}):
                    self.sent_marks[sid].append(f"m{n}")
        self.closes.put((0, ws.close_code))

    def _send(self, ws, counter: str, msg: dict) -> bool:
        """Send and count; False once the client has closed (keep reading what it sent)."""
        try:
            ws.send(json.dumps(msg))
        except ConnectionClosed:
            return False
        with self._count_lock:
            setattr(self, counter, getattr(self, counter) + 1)
        return True


@pytest.mark.slow
def test_sim_load_runs_bidirectional_calls_under_gevent():
    app = EchoApp()
    try:
        out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "sim_load.py"), "--url", app.url("/ai"),
             "--calls", "3", "--seconds", "1", "--auth-token", "tok", "--bidirectional",
             "--audio", "tone", "--json"],
            capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        for _ in range(3):  # every connection handler has read all it was sent
            app.closes.get(timeout=10)
    finally:
        app.close()
    assert report["connected"] == 3 and report["failures"] == {}
    assert report["frames_sent"] == report["frames_expected"] == 150
    # App frames reached the client, except any still in flight when it stopped.
    assert 0 < report["app_media"] <= app.media_sent
    assert report["dropped_app_messages"] == 0
    assert report["dropped_app_messages"] == 0
    assert report["mark_wait_ms_p50"] is not None and report["cpu_s"] >= 0
    msgs = []
    while not app.messages.empty():
        msgs.append(app.messages.get()[1])
    starts = [m for m in msgs if m["event"] == "start"]
    assert len(starts) == 3 and len({m["start"]["callSid"] for m in starts}) == 3
    media = [m for m in msgs if m["event"] == "media"]
    assert len(media) == 150
    assert all(len(base64.b64decode(m["media"]["payload"])) == 160 for m in media)
    assert sum(m["event"] == "stop" for m in msgs) == 3
    # Marks come back in the order sent, each once; those whose audio had not played by
    # `stop` are never echoed (Twilio only echoes played or cleared marks).
    echoed: dict[str, list[str]] = {}
    for m in msgs:
        if m["event"] == "mark":
            echoed.setdefault(m["streamSid"], []).append(m["mark"]["name"])
    for sid, names in echoed.items():
        assert names == app.sent_marks[sid][:len(names)]
    assert sum(map(len, echoed.values())) == report["marks_echoed"] > 0
    for _ in range(3):
        _, headers = app.upgrades.get_nowait()
        assert RequestValidator("tok").validate(f"ws://127.0.0.1:{app.port}/ai", {},
                                                headers["X-Twilio-Signature"])
