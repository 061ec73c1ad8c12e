"""Supervisor console under /console: sign-in, live board, conference views (server-rendered)."""
from __future__ import annotations

from datetime import timedelta
from importlib import import_module

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_login import LoginManager

from console import guard
from console.blueprint import bp, csrf
from console.users import load_user

DEFAULTS = {
    "CONSOLE_SIGNIN_LIMIT": "10 per minute;50 per hour",  # per client address, POSTs only
    "CONSOLE_SIGNIN_ACCOUNT_LIMIT": "5 per minute;30 per hour",  # per tenant + e-mail
    "CONSOLE_SSE_POLL_S": 1.0,  # how often a live view re-reads the state
    "CONSOLE_SSE_MAX_S": 300.0,  # a stream ends after this; EventSource reconnects
    "CONSOLE_SESSION_HOURS": 12,
    "CONSOLE_COOKIE_SECURE": None,  # None -> Secure when PUBLIC_URL is https
}


def _signin_limit() -> str:
    return current_app.config["CONSOLE_SIGNIN_LIMIT"]


def _account_limit() -> str:
    return current_app.config["CONSOLE_SIGNIN_ACCOUNT_LIMIT"]


def client_address() -> str:
    """The client's address (ProxyFix has applied TRUSTED_PROXY_COUNT's X-Forwarded-For)."""
    return request.remote_addr or "unknown"


def _account_key() -> str:
    # Guessing one account's password from many addresses is limited too.
    tenant = request.form.get("tenant", "").strip()
    return f"account:{tenant}:{request.form.get('email', '').strip().lower()}"


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
    import_module("console.sessions").init_app(app)
    login = LoginManager(app)
    login.user_loader(load_user)
    login.unauthorized_handler(guard.refuse_signed_out)
    login.session_protection = "strong"
    csrf.init_app(app)
    # One limiter per app, so each app (and test) has its own counters.
    limiter = Limiter(client_address, app=app, default_limits=[],
                      storage_uri=app.config["RATELIMIT_STORAGE_URI"])
    app.extensions["console_limiter"] = limiter
    app.extensions["console_streams"] = import_module("console.live").LiveStreams()
    for module in ("auth", "views", "actions", "live", "listen", "supervise"):
        import_module(f"console.{module}")
    app.register_blueprint(bp)
    # Wrap this app's sign-in view with this app's limiter (the blueprint is shared by apps).
    signin = limiter.limit(_signin_limit, methods=["POST"])(app.view_functions["console.signin"])
    app.view_functions["console.signin"] = limiter.limit(
        _account_limit, methods=["POST"], key_func=_account_key)(signin)
    from console.cli import users_cli

    app.cli.add_command(users_cli)
