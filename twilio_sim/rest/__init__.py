"""The 2010-04-01 REST API: one blueprint, Basic auth, Twilio's error JSON."""
from __future__ import annotations

import hmac

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

bp = Blueprint("rest", __name__, url_prefix="/2010-04-01/Accounts/<account_sid>")


class TwilioError(Exception):
    """An API error rendered as {code, message, more_info, status}."""

    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: int, message: str):
    """Twilio's legacy error body with the given HTTP status."""
    body = {"code": code, "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
    return jsonify(body), status


def not_found() -> TwilioError:
    """20404 for the current request path."""
    return TwilioError(404, 20404, f"The requested resource {request.path} was not found")


def sim():
    """The Simulator bound to this app."""
    return current_app.extensions["twilio_sim"]


@bp.url_value_preprocessor
def _authenticate(endpoint, values):
    auth = request.authorization
    sim_ = sim()
    ok = (auth is not None and auth.type == "basic"
          and hmac.compare_digest(str(auth.username or ""), sim_.account_sid)
          and hmac.compare_digest(str(auth.password or ""), sim_.auth_token))
    if not ok:
        raise TwilioError(401, 20003, "Authentication Error - invalid username")
    if values.pop("account_sid", None) != sim_.account_sid:
        raise not_found()


def form_list(name: str) -> list[str]:
    """A list param sent as repeated keys or space-separated values."""
    out: list[str] = []
    for value in request.form.getlist(name):
        out.extend(value.replace(",", " ").split())
    return out


def form_bool(name: str, default: bool | None = None) -> bool | None:
    """A 'true'/'false' form param; anything else is a 400."""
    raw = request.form.get(name)
    if raw is None:
        return default
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise TwilioError(400, 20001, f"Invalid value for {name}: {raw[:40]!r}")


def check_url(name: str, value: str | None, schemes=("http", "https")) -> str | None:
    """Validate an absolute URL param (21205 when invalid)."""
    if value is None:
        return None
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in schemes or not rest or any(c.isspace() for c in value):
        raise TwilioError(400, 21205, f"Url is not a valid URL: {value[:100]}")
    return value


def register(app) -> None:
    """Attach the REST blueprint and JSON error handlers to the app."""
    from . import applications, calls, conferences  # noqa: F401  (routes register on bp)

    app.register_blueprint(bp)

    @app.errorhandler(TwilioError)
    def _twilio_error(err):
        return error_response(err.status, err.code, err.message)

    @app.errorhandler(HTTPException)
    def _http_error(err):
        if err.code == 404:
            missing = not_found()
            return error_response(404, missing.code, missing.message)
        return error_response(err.code or 400, 20001 if err.code != 405 else 20004,
                              err.description or err.name)

    @app.errorhandler(Exception)
    def _crash(err):
        current_app.logger.exception("unhandled error in %s", request.path)
        return error_response(500, 20500, "Internal Server Error")
