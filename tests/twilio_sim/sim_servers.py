"""Tiny stand-ins for the app side: a webhook HTTP server and a Media Streams WebSocket server."""
from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator
from websockets.sync.server import serve


class Recorder:
    """A list of items with a condition variable so tests can wait for one."""

    def __init__(self):
        self.items: list = []
        self.cond = threading.Condition()

    def add(self, item) -> None:
        """Append and wake waiters."""
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0):
        """The first item matching `predicate`, waiting up to `timeout` seconds."""
        def found():
            return next((i for i in self.items if predicate(i)), None)

        with self.cond:
            if not self.cond.wait_for(lambda: found() is not None, timeout):
                raise AssertionError(f"no matching item among {len(self.items)}")
            return found()

    def matching(self, predicate) -> list:
        """All items matching `predicate` so far."""
        with self.cond:
            return [i for i in self.items if predicate(i)]


class WebhookServer:
    """Serves TwiML per path and records every (signed) request it gets."""

    def __init__(self, auth_token: str):
        self.routes: dict[str, str | bytes] = {}  # bytes are served as audio/wav
        self.requests = Recorder()
        validator = RequestValidator(auth_token)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode())) if length else {}
                url = f"http://127.0.0.1:{outer.port}{self.path}"
                valid = validator.validate(url, form, self.headers.get("X-Twilio-Signature", ""))
                path = self.path.split("?")[0]
                outer.requests.add({"path": path, "form": form, "valid": valid,
                                    "method": self.command})
                body = outer.routes.get(path, "")
                kind = "audio/wav" if isinstance(body, bytes) else "text/xml"
                body = body if isinstance(body, bytes) else body.encode()
                self.send_response(200 if path in outer.routes else 204)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        # shutdown() waits for the serve loop's next poll: 0.5 s by default, per test.
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


class MediaServer:
    """Records every stream's messages; on bidirectional streams it can play audio back."""

    def __init__(self, auth_token: str):
        self.connections = Recorder()  # dicts: path, signature_ok, messages (Recorder)
        self.reply_audio: bytes | None = None  # μ-law sent back once `start` arrives
        self.reply_mark: str | None = None
        validator = RequestValidator(auth_token)
        outer = self

        def handler(ws):
            path = ws.request.path
            url = f"ws://127.0.0.1:{outer.port}{path}"
            sig = ws.request.headers.get("X-Twilio-Signature", "")
            conn = {"path": path, "signature_ok": validator.validate(url, {}, sig),
                    "messages": Recorder(), "ws": ws}
            outer.connections.add(conn)
            try:
                for text in ws:
                    msg = json.loads(text)
                    conn["messages"].add(msg)
                    if msg.get("event") == "start" and outer.reply_audio is not None:
                        outer._reply(ws, msg["streamSid"])
            except Exception:  # noqa: BLE001 - the simulator may drop the socket on purpose
                pass

        self.server = serve(handler, "127.0.0.1", 0, compression=None)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _reply(self, ws, stream_sid: str) -> None:
        payload = base64.b64encode(self.reply_audio).decode()
        ws.send(json.dumps({"event": "media", "streamSid": stream_sid,
                            "media": {"payload": payload}}))
        if self.reply_mark:
            ws.send(json.dumps({"event": "mark", "streamSid": stream_sid,
                                "mark": {"name": self.reply_mark}}))

    def url(self, path: str) -> str:
        """ws:// URL of a path on this server."""
        return f"ws://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()


def events(conn: dict, name: str) -> list[dict]:
    """Messages of one kind received on a connection."""
    return conn["messages"].matching(lambda m: m.get("event") == name)
