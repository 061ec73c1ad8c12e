"""The media plane as other components see it: the only module of it they may call.

Calls down into the media plane go through these functions, never through attributes of
LiveCall, ForkLeg or MediaPlane; calls up go through `conference.media.ports`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from conference.logs import monotonic_ms
from conference.media import metrics
from conference.media.registry import get_plane, listen, mix_key, set_ai_mode, subscribe
from conference.media.supervise import MicRelay, close_relay, open_relay
from conference.media.supervise_remote import BrowserEnd, supervisor_key

__all__ = ["BrowserEnd", "ForkView", "MicRelay", "ai_speaking", "close_relay", "count_relay",
           "forks", "listen", "mix_key", "open_relay", "register_collector",
           "relay_across_workers", "set_ai_mode", "submit", "subscribe"]


@dataclass(frozen=True)
class ForkView:
    """A human leg's fork as other components see it: which stream, whose, which tap key."""

    stream_sid: str
    call_sid: str
    info: dict


def ai_speaking(app: Flask, call_sid: str | None) -> bool | None:
    """Whether the AI call `call_sid` is audible now; None when it is not live on this worker."""
    plane = app.extensions.get("media")
    live = plane.calls.get(call_sid) if plane is not None and call_sid else None
    if live is None:
        return None
    return live.tracker.is_speaking(monotonic_ms())


def forks(app: Flask) -> dict[tuple[str, str], ForkView]:
    """This worker's human forks by (conference key, label); empty before any media socket."""
    plane = app.extensions.get("media")
    if plane is None:
        return {}
    return {(ck, label): ForkView(fork.start.stream_sid, fork.start.call_sid, dict(fork.info))
            for ck, by_label in list(plane.forks.items())
            for label, fork in list(by_label.items())}


def submit(app: Flask, job: Callable, *args) -> None:
    """Queue `job(*args)` on the media plane's state writer (off the audio path)."""
    get_plane(app).sink.submit(job, *args)


def relay_across_workers(app: Flask, relay: MicRelay, tenant: int | str, conference: str,
                         label: str) -> BrowserEnd:
    """Let the supervisor leg of `relay` reach it from another worker (call before dialing;
    `settle()` while relaying, `stop()` when the page leaves)."""
    return BrowserEnd(get_plane(app), relay, supervisor_key(tenant, conference, label)).start()


def count_relay(relay: MicRelay) -> None:
    """Add a closed browser-supervisor relay's drops and skipped frames to /metrics."""
    metrics.SUPERVISOR_DROPPED.labels(direction="to_browser").inc(relay.dropped_to_browser)
    metrics.SUPERVISOR_DROPPED.labels(direction="to_twilio").inc(relay.dropped_to_twilio)
    metrics.MALFORMED.labels(reason="mic_frame_size").inc(relay.malformed)


def register_collector(collector) -> None:
    """Expose a collector read at scrape time on the media plane's /metrics (this worker's)."""
    metrics.register_scrape_time(collector)
