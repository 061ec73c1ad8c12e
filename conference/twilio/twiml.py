"""TwiML responses rendered from autoescaped Jinja `.xml` templates in twiml_templates/."""
from __future__ import annotations

from flask import Response, render_template

CONFERENCE_EVENTS = "start end join leave mute hold modify"


def render_twiml(template: str, status: int = 200, **context) -> Response:
    """Render `template` (a .xml file, so every value is XML-escaped) as a TwiML response."""
    body = render_template(template, **context)
    return Response(body, status=status, mimetype="text/xml")


def error_twiml(message: str) -> Response:
    """Say `message` and hang up, so a caller never hears dead air."""
    return render_twiml("error.xml", message=message)


def hangup_twiml() -> Response:
    """Hang up silently: on the AI leg the far side is the conference, so a <Say> would be heard
    by every participant (https://www.twilio.com/docs/voice/twiml/hangup)."""
    return render_twiml("hangup.xml")
