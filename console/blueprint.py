"""The console blueprint, its CSRF guard and its refusal handlers (registered once)."""
from __future__ import annotations

from flask import Blueprint
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from console import guard

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")
csrf = CSRFProtect()


@bp.before_request
def _signed_in_only():
    return guard.require_signed_in()


@bp.before_request
def _csrf_on_writes():
    # CSRF is scoped to the console: the JSON API (bearer keys) and Twilio's signed webhooks
    # carry no cookies to ride on, so CSRFProtect's global check is off (WTF_CSRF_CHECK_DEFAULT).
    csrf.protect()


bp.register_error_handler(guard.service.ServiceError, guard.on_service_error)
bp.register_error_handler(CSRFError, guard.on_csrf_error)
bp.register_error_handler(HTTPException, guard.on_http_error)
