"""Service errors; the admin API renders them as {"error": {"code", "message", "fields"?}}."""
from __future__ import annotations


class ServiceError(Exception):
    """A refusal with an HTTP status and a stable machine-readable code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, str] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields
        if code:
            self.code = code

    def to_dict(self) -> dict:
        """The error body."""
        error: dict = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


class NotFound(ServiceError):
    """No such conference or label (or it belongs to another tenant)."""

    status, code = 404, "not_found"


class Conflict(ServiceError):
    """The request clashes with current state (duplicate name, ended conference)."""

    status, code = 409, "conflict"


class Invalid(ServiceError):
    """The body failed validation; `fields` maps each bad field to its problem."""

    status, code = 422, "validation_failed"


class TooManyAISessions(ServiceError):
    """The tenant's cap on concurrent AI sessions is reached."""

    status, code = 429, "ai_session_limit"


class UpstreamError(ServiceError):
    """Twilio refused; carries Twilio's code and message."""

    status, code = 502, "twilio_error"

    def __init__(self, twilio_code: int | None, twilio_message: str):
        super().__init__(f"Twilio refused the request: {twilio_message}")
        self.twilio_code = twilio_code
        self.twilio_message = twilio_message

    def to_dict(self) -> dict:
        """The error body, with Twilio's own code and message."""
        body = super().to_dict()
        body["error"]["twilio"] = {"code": self.twilio_code, "message": self.twilio_message}
        return body
