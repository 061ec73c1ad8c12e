"""A plain flask-sock echo app, served like Forkline (gunicorn -k gevent): the harness check.

It is what a straightforward Flask/gevent implementation of the AI leg costs before any
engineering: stdlib json, one message in, one message out, no marks.
Serve: gunicorn --worker-class gevent "bench.flask_echo:create_app()".
"""
from __future__ import annotations

import json

from flask import Flask
from flask_sock import Sock


def create_app() -> Flask:
    """The echo app with its one socket route at the AI-leg path."""
    app = Flask(__name__)
    sock = Sock(app)

    @sock.route("/twilio/ai-stream")
    def ai_stream(ws) -> None:
        stream_sid = None
        while True:
            raw = ws.receive()
            if raw is None:
                return
            msg = json.loads(raw)
            event = msg.get("event")
            if event == "media" and stream_sid is not None:
                out = {"event": "media", "streamSid": stream_sid,
                       "media": {"payload": msg["media"]["payload"]}}
                ws.send(json.dumps(out))
            elif event == "start":
                stream_sid = msg["start"]["streamSid"]
            elif event == "stop":
                return

    return app
