"""Server-Sent Events: the board and a conference page re-read state and push changes."""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

from flask import Response, current_app, stream_with_context
from flask_login import current_user

from conference import service
from console import state
from console.blueprint import bp
from models import get_session

KEEPALIVE_S = 15.0


class LiveStreams:
    """The app's open event streams: `close()` ends them all (shutdown, tests) and waits."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.active = 0
        self.idle = threading.Condition()

    def enter(self) -> None:
        """A stream started."""
        with self.idle:
            self.active += 1

    def leave(self) -> None:
        """A stream ended."""
        with self.idle:
            self.active -= 1
            self.idle.notify_all()

    def close(self, timeout: float = 10.0) -> bool:
        """Ask every stream to end; True when all did within `timeout`."""
        self.stop.set()
        with self.idle:
            return self.idle.wait_for(lambda: self.active == 0, timeout)


class Snapshots:
    """One SSE stream: emits the view when it changed since the last one, else keep-alives."""

    def __init__(self, read: Callable[[], dict], poll_s: float, max_s: float,
                 streams: LiveStreams) -> None:
        self.read, self.poll_s, self.max_s, self.streams = read, poll_s, max_s, streams
        self.last: str | None = None

    def frame(self) -> str | None:
        """The next `data:` frame, or None when nothing changed."""
        body = json.dumps(self.read(), separators=(",", ":"), sort_keys=True)
        get_session().close()  # the next read starts a fresh transaction and sees new rows
        if body == self.last:
            return None
        self.last = body
        return f"data: {body}\n\n"

    def __iter__(self) -> Iterator[str]:
        self.streams.enter()
        try:
            yield "retry: 2000\n\n"
            yield from self._frames()
        finally:
            self.streams.leave()

    def _frames(self) -> Iterator[str]:
        started = idle_since = time.monotonic()
        stop = self.streams.stop
        while not stop.is_set() and time.monotonic() - started < self.max_s:
            frame = self.frame()
            now = time.monotonic()
            if frame is not None:
                idle_since = now
                yield frame
            elif now - idle_since >= KEEPALIVE_S:
                idle_since = now
                yield ": keep-alive\n\n"
            stop.wait(self.poll_s)


def _sse(read: Callable[[], dict]) -> Response:
    cfg = current_app.config
    stream = Snapshots(read, cfg["CONSOLE_SSE_POLL_S"], cfg["CONSOLE_SSE_MAX_S"],
                       current_app.extensions["console_streams"])
    return Response(stream_with_context(iter(stream)), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@bp.get("/board/events")
def board_events():
    """The live board as an event stream."""
    tenant_id = current_user.tenant_id
    return _sse(lambda: state.board_view(tenant_id))


@bp.get("/conferences/<name>/events")
def conference_events(name: str):
    """One conference's live state, transcript and tool calls as an event stream."""
    tenant_id = current_user.tenant_id
    service.get_conference(tenant_id, name)  # 404 for another tenant's (or no) conference
    return _sse(lambda: state.detail_view(service.get_conference(tenant_id, name)))
