"""Conference orchestration: Twilio webhooks, REST gateway, admin API and the media plane."""
from __future__ import annotations

from importlib import import_module

from flask import Flask


def init_app(app: Flask) -> None:
    """Register every blueprint, socket route and service of the conference package."""
    # Each component registers itself here; keep one line per component.
    import_module("conference.cli").init_app(app)  # flask db / flask tenants
