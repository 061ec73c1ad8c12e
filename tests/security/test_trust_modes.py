"""The same attacks in every trust mode the README documents, each against a real gunicorn.

Modes: production (PUBLIC_URL set), development (PUBLIC_URL unset, FORKLINE_ENV=development),
heroku (PUBLIC_URL set, TRUSTED_PROXY_COUNT=1 behind a proxy appending X-Forwarded-*) and tunnel
(development behind such a proxy). README.md, Security, "What each mode trusts" says what
happens; each assertion below is one line of that table.
"""
from __future__ import annotations

import base64
import json
import os
import random
import socket
from urllib.parse import urlsplit

import pytest
from twilio.request_validator import RequestValidator

from conference.twilio.security import make_stream_token

from .attack_server import AUTH_TOKEN, close_code, read_response, start_message, upgrade

# A gunicorn boot counts toward the first test; on a loaded machine it took 70-90 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
SECRET = "attack-secret"
FORM = {"CallSid": "CA" + "c" * 32, "CallStatus": "ringing"}
FORGED_HOSTS = ["evil.example", "evil.example/twilio/voice?tenant=2"]


def sign(url: str, params: dict) -> str:
    return RequestValidator(AUTH_TOKEN).compute_signature(url, params)


def request(server, method: str, path: str, body: bytes = b"", headers: dict | None = None,
            host: str | None = None) -> tuple[int, bytes]:
    """One request on its own connection to the port attacks use; (status, raw answer)."""
    host = host or urlsplit(server.public).netloc
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}",
             "Connection: close"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    answer = server.raw(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return int(answer.split(b" ", 2)[1]), answer


def callback(server, signed_for: str, headers: dict | None = None, host: str | None = None):
    body = "&".join(f"{k}={v}" for k, v in FORM.items()).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": sign(signed_for + "/twilio/call-events", FORM),
               **(headers or {})}
    return request(server, "POST", "/twilio/call-events", body, headers, host)[0]


def test_the_signature_is_checked_against_the_url_the_mode_names(mode_server):
    assert callback(mode_server, mode_server.public) in (200, 204)


@pytest.mark.parametrize("forged", FORGED_HOSTS)
def test_forged_forwarded_headers_never_choose_the_signed_url(mode_server, forged):
    # A genuine Twilio signature for the attacker's URL, replayed with forwarded headers naming
    # it: no proxy -> the headers are ignored; one trusted proxy -> only its (last) value counts.
    headers = {"X-Forwarded-Host": forged, "X-Forwarded-Proto": "https"}
    assert callback(mode_server, "https://evil.example", headers) == 403
    assert callback(mode_server, mode_server.public, headers) in (200, 204)


def test_a_forged_host_header_is_trusted_only_in_development_without_a_proxy(mode_server):
    status = callback(mode_server, "http://evil.example", host="evil.example")
    if mode_server.mode == "development":
        assert status in (200, 204)  # documented: development trusts the request's own Host
    else:
        assert status == 403  # PUBLIC_URL, or the trusted proxy's X-Forwarded-Host, decides


def dialed_urls(attack_twilio) -> list[str]:
    """Every URL Forkline handed Twilio (callbacks, TwiML) since the last call."""
    return [v for rec in attack_twilio.take() for vs in rec.params.values() for v in vs
            if v.startswith(("http://", "https://", "ws://", "wss://"))]


def api_key(server) -> str:
    """One tenant per server (each `flask tenants create` is a process start)."""
    if not hasattr(server, "api_key"):
        server.api_key = server.tenant(f"poison-{server.mode}")
    return server.api_key


def create_room(server, key: str, headers: dict, host: str | None = None) -> int:
    body = json.dumps({"name": f"room-{random.randrange(10**9)}", "participants": [
        {"to": "+15550001111", "role": "customer", "label": "c"}]}).encode()
    return request(server, "POST", "/api/conferences", body, {
        "Content-Type": "application/json", "Authorization": f"Bearer {key}", **headers},
        host)[0]


@pytest.mark.parametrize("forged", FORGED_HOSTS)
def test_callback_urls_come_from_the_configuration_not_forwarded_headers(
        mode_server, attack_twilio, forged):
    key = api_key(mode_server)
    attack_twilio.take()
    headers = {"X-Forwarded-Host": forged, "X-Forwarded-Proto": "https"}
    assert create_room(mode_server, key, headers) == 201
    urls = dialed_urls(attack_twilio)
    assert urls and all(u.startswith(mode_server.public + "/") for u in urls), urls


def test_a_forged_host_poisons_callbacks_only_in_development_without_a_proxy(
        mode_server, attack_twilio):
    key = api_key(mode_server)
    attack_twilio.take()
    assert create_room(mode_server, key, {}, host="evil.example") == 201
    urls = dialed_urls(attack_twilio)
    expected = "http://evil.example" if mode_server.mode == "development" else mode_server.public
    assert urls and all(u.startswith(expected + "/") for u in urls), urls


def raw_upgrade(server, signed_url: str, host: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    head = (f"GET /twilio/fork HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"X-Twilio-Signature: {sign(signed_url, {})}\r\n"
            "X-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(head.encode())
        return read_response(s).split(b"\r\n", 1)[0]


def test_an_upgrade_signed_for_a_forged_host_is_403(mode_server):
    assert b" 403 " in raw_upgrade(mode_server, "wss://evil.example/twilio/fork",
                                   urlsplit(mode_server.public).netloc)


@pytest.mark.parametrize(("path", "kind"), [("/twilio/ai-stream", "ai"), ("/twilio/fork", "fork")])
def test_a_replayed_token_for_another_call_is_closed_1008(mode_server, path, kind):
    victim, attacker = (f"CA{random.getrandbits(128):032x}" for _ in range(2))
    token = make_stream_token(SECRET, {"conference": "room", "tenant": 2, "kind": kind,
                                       "label": "ai" if kind == "ai" else "customer",
                                       "call": attacker})
    s = upgrade(mode_server, path)
    s.sendall(start_message(victim, {"conference": "room", "tenant": "2", "label": "customer",
                                     "role": "customer", "agent": "default", "mode": "speak",
                                     "coach": "", "token": token}))
    assert close_code(s) == 1008
    s.close()
    assert mode_server.healthz() == 200
