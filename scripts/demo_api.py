"""Small HTTP clients the demo drives: Forkline's admin API and polling helpers."""
from __future__ import annotations

import requests

from twilio_sim.testing import wait_for


class DemoError(RuntimeError):
    """A step of the demo did not happen; the message says which."""


class AdminApi:
    """Forkline's admin API with a tenant's bearer token."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {api_key}"

    def call(self, method: str, path: str, body: dict | None = None, ok=(200, 201)) -> dict:
        """One JSON request; a status outside `ok` raises DemoError with the API's error."""
        resp = self.http.request(method, self.base + path, json=body, timeout=15)
        if resp.status_code not in ok:
            raise DemoError(f"{method} {path} -> {resp.status_code}: {resp.text[:500]}")
        return resp.json()

    def get(self, path: str) -> dict:
        """GET a JSON document."""
        return self.call("GET", path)


def wait_until(predicate, timeout_s: float, what: str, interval_s: float = 0.1):
    """Poll `predicate` until it returns something truthy; DemoError on timeout."""
    try:
        return wait_for(predicate, timeout_s, interval_s, message=what)
    except AssertionError:
        raise DemoError(f"timed out after {timeout_s:.0f}s waiting for {what}") from None


def participant(detail: dict, label: str) -> dict | None:
    """The participant `label` of a conference detail document."""
    return next((p for p in detail["participants"] if p["label"] == label), None)
