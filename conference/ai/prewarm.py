"""Pre-warm the Realtime session while the AI leg's TwiML webhook answers.

The session is put in `agents.realtime.prewarm.POOL` under the AI leg's CallSid (the `callSid`
of the stream's `start` message), for the media plane to claim when the AI socket arrives.
"""
from __future__ import annotations

import threading

from flask import Flask

from agents.realtime.prewarm import POOL
from agents.registry import backend_settings, create_session
from conference.ai import profiles
from conference.logs import get_logger

log = get_logger("prewarm")
BACKEND = "realtime"


def maybe_start(app: Flask, call_sid: str, tenant_id: int, agent: str) -> threading.Thread | None:
    """When `agent`'s backend is realtime, pre-warm in the background; never raises."""
    try:
        backend = profiles.backend_for(tenant_id, agent) or app.config["AI_BACKEND"]
    except Exception:
        log.warning("pre-warm skipped", exc_info=True, extra={"call_sid": call_sid})
        return None
    if backend != BACKEND:
        return None
    # Its own thread (a greenlet under gevent): the webhook answers without waiting for it.
    thread = threading.Thread(target=prewarm, args=(app, call_sid, tenant_id, agent),
                              name="prewarm", daemon=True)
    thread.start()
    return thread


def prewarm(app: Flask, call_sid: str, tenant_id: int, agent: str) -> bool:
    """Build `agent`'s Realtime session for `call_sid` and start connecting it; never raises."""
    try:
        with app.app_context():
            # The same profile and settings the media plane builds its session with.
            profile = profiles.runtime_profile(tenant_id, agent)
        settings = backend_settings(app.config)
        POOL.prewarm(call_sid, lambda: create_session(BACKEND, profile, settings))
        return True
    except Exception:  # a failed pre-warm only costs the first turn its head start
        log.warning("pre-warm failed", exc_info=True, extra={"call_sid": call_sid})
        return False
