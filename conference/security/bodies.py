"""Body limits: refuse unsigned or oversized Twilio requests before a byte is parsed.

Twilio's callbacks are a few KB, so /twilio gets a small cap (TWILIO_MAX_BODY) and is refused with
403 when X-Twilio-Signature is absent; every other route gets API_MAX_BODY. A declared length over
the cap is refused without reading the body; a chunked body is cut off by werkzeug's limited stream.
JSON nested deeper than the parser can recurse is 422, not a RecursionError.
"""
from __future__ import annotations

from flask import abort, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import UnprocessableEntity

TWILIO_PREFIX = "/twilio/"


def guard_body() -> None:
    """before_request: 403 for an unsigned /twilio request, 413 for a body over its cap."""
    cfg = current_app.config
    if request.path.startswith(TWILIO_PREFIX):
        if not request.headers.get("X-Twilio-Signature"):
            abort(403, description="missing X-Twilio-Signature")
        cap = int(cfg["TWILIO_MAX_BODY"])
    else:
        cap = int(cfg["API_MAX_BODY"])
    request.max_content_length = cap
    request.max_form_memory_size = cap
    length = request.content_length
    if length is not None and length > cap:
        abort(413, description=f"body of {length} bytes is over the {cap}-byte limit")


class BoundedJSONProvider(DefaultJSONProvider):
    """The default provider, answering 422 for JSON nested too deep to parse."""

    def loads(self, s, **kwargs):
        """Parse JSON; nesting that exhausts the recursion limit is a 422."""
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise UnprocessableEntity(description="JSON is nested too deeply") from None


def init_app(app) -> None:
    """Install the body guard and the bounded JSON parser."""
    app.config.setdefault("MAX_CONTENT_LENGTH", int(app.config["API_MAX_BODY"]))
    if app.config["MAX_CONTENT_LENGTH"] is None:
        app.config["MAX_CONTENT_LENGTH"] = int(app.config["API_MAX_BODY"])
    app.json_provider_class = BoundedJSONProvider
    app.json = BoundedJSONProvider(app)
    app.before_request_funcs.setdefault(None, []).insert(0, guard_body)
