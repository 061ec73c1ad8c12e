"""Supervisor console under /console: sign-in, live board, conference views (server-rendered)."""
from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager

from console import guard
from console.blueprint import bp, csrf
from console.users import load_user

DEFAULTS = {
    "CONSOLE_SIGNIN_LIMIT": "10 per minute;50 per hour",  # per client address, POSTs only
    "CONSOLE_SSE_POLL_S": 1.0,  # how often a live view re-reads the state
    "CONSOLE_SSE_MAX_S": 300.0,  # a stream ends after this; EventSource reconnects
    "CONSOLE_SESSION_HOURS": 12,
    "CONSOLE_COOKIE_SECURE": None,  # None -> Secure when PUBLIC_URL is https
}


def _signin_limit() -> str:
    return current_app.config["CONSOLE_SIGNIN_LIMIT"]


def init_app(app: Flask) -> None:
    """Attach sessions, CSRF, the sign-in limiter, the blueprint and `flask users`."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    # Flask's own defaults (no SameSite, never Secure, 31 days) are replaced, not merged.
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config["SESSION_COOKIE_SAMESITE"] or "Lax"
    secure = app.config["CONSOLE_COOKIE_SECURE"]
    app.config["SESSION_COOKIE_SECURE"] = bool(secure) if secure is not None else str(
        app.config.get("PUBLIC_URL") or "").startswith("https://")
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        hours=app.config["CONSOLE_SESSION_HOURS"])
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    login = LoginManager(app)
    login.user_loader(load_user)
    login.unauthorized_handler(guard.refuse_signed_out)
    login.session_protection = "strong"
    csrf.init_app(app)
    # One limiter per app, so each app (and test) has its own counters.
    limiter = Limiter(get_remote_address, app=app, default_limits=[],
                      storage_uri=app.config["RATELIMIT_STORAGE_URI"])
    app.extensions["console_limiter"] = limiter
    app.extensions["console_streams"] = import_module("console.live").LiveStreams()
    for module in ("auth", "views", "actions", "live", "listen"):
        import_module(f"console.{module}")
    app.register_blueprint(bp)
    # Wrap this app's sign-in view with this app's limiter (the blueprint is shared by apps).
    app.view_functions["console.signin"] = limiter.limit(_signin_limit, methods=["POST"])(
        app.view_functions["console.signin"])
    from console.cli import users_cli

    app.cli.add_command(users_cli)
