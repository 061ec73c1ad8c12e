"""Conference orchestration: Twilio webhooks, REST gateway, admin API and the media plane."""
from __future__ import annotations

from importlib import import_module

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint, socket route and service of the conference package."""
    # Each component registers itself here; keep one line per component.
    import_module("conference.cli").init_app(app)  # flask db / flask tenants
    import_module("conference.twilio.gateway").init_app(app)  # app.extensions["twilio_gateway"]
    import_module("conference.webhooks.routes").init_app(app)  # /twilio/* webhooks
    import_module("conference.api").init_app(app)  # /api admin API
    import_module("conference.api.agents").init_app(app)  # /api/agents, transcripts
    import_module("conference.ai.tools").init_app(app)  # media ports: profiles, tool calls
    import_module("conference.transcripts.live").init_app(app)  # fork transcripts, AI records
    import_module("conference.ops").init_app(app)  # /healthz, /readyz
    import_module("conference.media.sockets").init_app(app)  # media sockets, /metrics
