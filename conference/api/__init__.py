"""Admin REST API under /api: JSON, `Authorization: Bearer <tenant API key>`, one error shape."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from conference.logs import get_logger
from conference.service.errors import ServiceError
from models import ApiKey, Tenant, get_session
from models.tenant import hash_api_key

bp = Blueprint("api", __name__, url_prefix="/api")
log = get_logger("api")
PUBLIC_ENDPOINTS = {"api.openapi"}


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    """The single error shape: {"error": {"code", "message", "fields"?}}."""
    error: dict = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return jsonify({"error": error}), status


@bp.before_request
def authenticate():
    """Resolve the bearer key to a tenant (g.tenant) or answer 401."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error_response(401, "unauthorized", "missing bearer token")
    tenant = get_session().scalar(
        sa.select(Tenant).join(ApiKey).where(
            ApiKey.key_hash == hash_api_key(token.strip()), ApiKey.revoked_at.is_(None))
    )
    if tenant is None:
        return error_response(401, "unauthorized", "unknown or revoked API key")
    g.tenant = tenant
    return None


@bp.errorhandler(ServiceError)
def service_error(exc: ServiceError):
    """Render a service refusal in the error shape."""
    if exc.status >= 500:
        log.warning("api upstream failure: %s", exc.message)
    return jsonify(exc.to_dict()), exc.status


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """Werkzeug errors (404 routes, 405, bad JSON) in the same shape."""
    return error_response(exc.code or 500, exc.name.lower().replace(" ", "_"),
                          exc.description or exc.name)


def _routing_error(exc: HTTPException):
    # Unknown paths and methods under /api never reach the blueprint; keep the error shape.
    if request.path == "/api" or request.path.startswith("/api/"):
        return http_error(exc)
    return exc


def init_app(app: Flask) -> None:
    """Register the API blueprint (and the JSON shape for /api routing errors)."""
    from conference.api import limits, openapi, routes  # noqa: F401 - attach the routes to bp

    limits.init_app(app)  # the dial budget decorates bp before it is registered
    app.register_blueprint(bp)
    app.register_error_handler(404, _routing_error)
    app.register_error_handler(405, _routing_error)
