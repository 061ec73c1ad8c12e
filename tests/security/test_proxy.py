"""Attacks on the trusted-proxy model: forged forwarded headers, a missing PUBLIC_URL."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from app import create_app
from conference.security.proxy import ConfigError, TrustedProxies, check_public_url

ROOT = Path(__file__).resolve().parents[2]
CALL = {"CallSid": "CA" + "a" * 32, "CallStatus": "ringing"}


def sign(app, url: str, params: dict) -> str:
    return RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)


@pytest.fixture
def dev_app(app):
    """The test app with PUBLIC_URL unset (development), no trusted proxy."""
    app.config["PUBLIC_URL"] = None
    return app


def post_events(app, signed_for: str, headers: dict, base_url: str = "http://localhost"):
    headers = {"X-Twilio-Signature": sign(app, signed_for + "/twilio/call-events", CALL), **headers}
    return app.test_client().post("/twilio/call-events", data=CALL, headers=headers,
                                  base_url=base_url)


def test_forwarded_host_is_ignored_without_trusted_proxies(dev_app):
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    assert post_events(dev_app, "https://evil.example", forged).status_code == 403


def test_signature_under_public_url_ignores_forwarded_host(app):
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    assert post_events(app, "https://evil.example", forged).status_code == 403
    assert post_events(app, "https://forkline.test", forged).status_code != 403


@pytest.mark.parametrize("headers", [
    {"X-Forwarded-Host": "evil.example/twilio/voice?tenant=2"},
    {"X-Forwarded-Host": "evil.example#x"},
    {"X-Forwarded-Host": "user@evil.example"},
    {"X-Forwarded-Proto": "javascript"},
    {"X-Forwarded-Proto": "https://evil.example"},
    {"X-Forwarded-Port": "443/x"},
])
def test_non_bare_forwarded_values_are_400_behind_a_proxy(dev_app, headers):
    dev_app.wsgi_app = TrustedProxies(dev_app.wsgi_app, 1)
    r = post_events(dev_app, "https://evil.example", headers)
    assert r.status_code == 400 and b"bare" in r.data


def test_trusted_proxy_decides_the_signed_url_and_only_the_last_hop_counts(dev_app):
    dev_app.wsgi_app = TrustedProxies(dev_app.wsgi_app, 1)
    # The client's own forged value comes first; the proxy appends the real one.
    headers = {"X-Forwarded-Host": "evil.example/x?y, tunnel.example.net",
               "X-Forwarded-Proto": "https"}
    assert post_events(dev_app, "https://tunnel.example.net", headers).status_code != 403
    assert post_events(dev_app, "https://evil.example", {
        "X-Forwarded-Host": "evil.example, tunnel.example.net",
        "X-Forwarded-Proto": "https"}).status_code == 403


@pytest.mark.parametrize("url", ["ftp://x.example", "https://x.example/?q=1", "https://x/#f",
                                 "https://evil.example@x.example", "x.example"])
def test_public_url_must_be_a_bare_base(url):
    with pytest.raises(ConfigError):
        check_public_url({"PUBLIC_URL": url})


def test_public_url_is_required_in_production(app_config):
    config = {**app_config, "TESTING": False, "PUBLIC_URL": None}
    with pytest.raises(ConfigError, match="PUBLIC_URL is required"):
        create_app(config)
    dev = create_app({**config, "ENVIRONMENT": "development"})
    assert dev.config["PUBLIC_URL"] is None


def test_production_boot_without_public_url_says_why(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PUBLIC_URL", "FORKLINE_ENV")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/boot.db"
    r = subprocess.run([sys.executable, "-c", "import app; app.create_app()"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "PUBLIC_URL is required" in r.stderr


def test_secret_key_is_required_and_never_the_twilio_token_in_production(app_config):
    prod = {**app_config, "TESTING": False}
    with pytest.raises(ConfigError, match="FORKLINE_SECRET_KEY is required"):
        create_app({**prod, "SECRET_KEY": None})
    with pytest.raises(ConfigError, match="must differ"):
        create_app({**prod, "SECRET_KEY": prod["TWILIO_AUTH_TOKEN"]})
    assert create_app({**prod, "SECRET_KEY": "k" * 32}).config["SECRET_KEY"] == "k" * 32


def test_stream_tokens_of_the_previous_key_are_accepted_during_a_rotation():
    from conference.twilio.security import make_stream_token, read_stream_token, stream_token_keys

    old = make_stream_token("old-key", {"kind": "ai", "call": "CA1"})
    rotating = {"SECRET_KEY": "new-key", "SECRET_KEY_FALLBACKS": ["old-key"]}
    assert read_stream_token(stream_token_keys(rotating), old, 60) == {"kind": "ai", "call": "CA1"}
    assert read_stream_token(stream_token_keys({"SECRET_KEY": "new-key"}), old, 60) is None
