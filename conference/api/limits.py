"""Per-tenant dial rate limits (flask-limiter): a leaked API key cannot dial without bound.

Every API request that can dial (POST/PUT under /api/conferences) shares one budget per API key
(DIAL_RATE_LIMIT, e.g. "30 per minute"), kept in Redis when REDIS_URL is set so all workers
share it; over budget is 429 with the limit as the reason.
"""
from __future__ import annotations

import hashlib

from flask import Flask, current_app, request
from flask_limiter import Limiter

DIALING_METHODS = ("POST", "PUT")


def api_key_id() -> str:
    """The limiter key: a hash of the bearer API key (one budget per key, hence per tenant)."""
    bearer = request.headers.get("Authorization", "")
    return "key:" + hashlib.sha256(bearer.encode()).hexdigest()[:32]


def not_a_dial() -> bool:
    """Requests that cannot dial are exempt from the dial budget."""
    return request.method not in DIALING_METHODS or not request.path.startswith(
        "/api/conferences")


def _limit() -> str:
    return current_app.config["DIAL_RATE_LIMIT"]


def init_app(app: Flask) -> None:
    """Put the shared dial budget on the admin API blueprint."""
    from conference.api import bp

    storage = app.config.get("REDIS_URL") or "memory://"
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter = Limiter(api_key_id, app=app, storage_uri=storage,
                      strategy="moving-window", key_prefix="forkline-dial")
    limiter.shared_limit(_limit, scope="dial", key_func=api_key_id, exempt_when=not_a_dial,
                         error_message="dial rate limit reached (DIAL_RATE_LIMIT)")(bp)
    app.extensions["dial_limiter"] = limiter
