"""A real local WebSocket app server (the app's side) for Media Streams client tests."""
from __future__ import annotations

import json
import queue
import threading

from websockets.sync.server import serve


class AppServer:
    """Plays the app's side: records upgrades and messages; tests script its replies."""

    def __init__(self, reject_status: int | None = None, ssl_context=None) -> None:
        self.reject_status = reject_status
        self.scheme = "wss" if ssl_context else "ws"
        self.upgrades: queue.Queue = queue.Queue()  # (path, headers) per connection
        self.messages: queue.Queue = queue.Queue()  # (connection number, message dict)
        self.closes: queue.Queue = queue.Queue()  # (connection number, close code or None)
        self.sockets: list = []
        self._server = serve(self._handler, "127.0.0.1", 0, process_request=self._check,
                             compression=None, ssl=ssl_context)
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/media") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def _check(self, conn, request):
        self.upgrades.put((request.path, request.headers))
        if self.reject_status:
            return conn.respond(self.reject_status, "rejected\n")
        return None

    def _handler(self, ws) -> None:
        number = len(self.sockets)
        self.sockets.append(ws)
        try:
            for text in ws:
                self.messages.put((number, json.loads(text)))
        except Exception:  # noqa: BLE001 - abrupt drops are part of what is tested
            pass
        self.closes.put((number, ws.close_code if ws.close_code is not None else None))

    def next_message(self, timeout: float = 5.0) -> dict:
        return self.messages.get(timeout=timeout)[1]

    def next_event(self, event: str, timeout: float = 5.0) -> dict:
        """Skip messages until one with `event` arrives."""
        while True:
            msg = self.next_message(timeout)
            if msg["event"] == event:
                return msg

    def send(self, number: int, msg) -> None:
        self.sockets[number].send(msg if isinstance(msg, str) else json.dumps(msg))

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)
