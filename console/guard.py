"""Refusals for the console: signed-out, wrong role, missing CSRF, service errors."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from conference import service

PUBLIC_ENDPOINTS = {"console.signin", "console.static"}


def wants_json() -> bool:
    """XHR, fetch, SSE and WebSocket requests get status codes, not redirects or pages."""
    accept = request.accept_mimetypes
    return (request.headers.get("Upgrade", "").lower() == "websocket"
            or "text/event-stream" in request.headers.get("Accept", "")
            or request.headers.get("X-Requested-With") == "XMLHttpRequest"
            or request.is_json
            or accept.best == "application/json")


def error_body(status: int, code: str, message: str):
    """The admin API's error shape, for console XHR callers."""
    return jsonify({"error": {"code": code, "message": message}}), status


def refuse_signed_out():
    """flask-login's unauthorized handler: 401 for XHR/SSE/WebSocket, else the sign-in page."""
    if wants_json():
        return error_body(401, "unauthorized", "sign in to the console")
    return redirect(url_for("console.signin", next=request.full_path.rstrip("?")))


def safe_next(target: str | None) -> str:
    """Only same-site /console paths are followed after sign-in (no open redirect)."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/"):
        return url_for("console.board")
    return target


def require_signed_in():
    """Blueprint before_request: every endpoint but sign-in and static needs a user."""
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    return refuse_signed_out()


def admin_required(view):
    """403 unless the signed-in user is a tenant admin."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            return _render_error(403, "forbidden", "this action needs the admin role")
        return view(*args, **kwargs)
    return wrapper


def _render_error(status: int, code: str, message: str):
    if wants_json():
        return error_body(status, code, message)
    return render_template("console/error.html", status=status, message=message), status


def on_service_error(exc: service.ServiceError):
    """A service refusal, shown as the API would show it."""
    if wants_json():
        return jsonify(exc.to_dict()), exc.status
    return render_template("console/error.html", status=exc.status, message=exc.message), \
        exc.status


def on_csrf_error(exc: CSRFError):
    """Missing or bad CSRF token: 400 with the reason."""
    return _render_error(400, "csrf_failed", exc.description)


def on_http_error(exc: HTTPException):
    """Other HTTP errors raised inside the console."""
    return _render_error(exc.code or 500, exc.name.lower().replace(" ", "_"),
                         exc.description or exc.name)
