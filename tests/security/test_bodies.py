"""Attacks with big or malformed bodies against a real gunicorn worker."""
from __future__ import annotations

import json

import pytest
from twilio.request_validator import RequestValidator

from .attack_server import AUTH_TOKEN, PUBLIC

HUGE = 200 * 1024 * 1024
# A gunicorn boot counts toward the first test; on a loaded machine it took 70-90 s.
pytestmark = pytest.mark.timeout(300)
# Flood-type attacks take `live_stream`: a started media stream of another tenant keeps flowing
# through each (every frame echoed back, its socket open, /healthz answering afterwards).


def post_head(path: str, length: int, headers: dict | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: forkline.attack.test",
             "Content-Type: application/x-www-form-urlencoded", f"Content-Length: {length}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


@pytest.mark.slow
def test_unsigned_huge_body_is_403_before_reading(forkline, live_stream):
    head = post_head("/twilio/conference-events", HUGE)
    assert status_of(forkline.raw(head + b"a=" + b"x" * 65536)) == 403
    assert forkline.healthz() == 200


@pytest.mark.slow
def test_bogus_signature_huge_body_is_413_before_reading(forkline, live_stream):
    head = post_head("/twilio/conference-events", HUGE, {"X-Twilio-Signature": "bogus"})
    answer = forkline.raw(head + b"a=" + b"x" * 65536)
    assert status_of(answer) == 413 and b"limit" in answer
    assert forkline.healthz() == 200


@pytest.mark.slow
def test_chunked_body_over_the_twilio_cap_is_refused(forkline, live_stream):
    # Without a length werkzeug either reads nothing (no wsgi.input_terminated: the form is
    # empty, so the bogus signature fails) or cuts the stream off at the cap: 403 or 413.
    head = (b"POST /twilio/call-events HTTP/1.1\r\nHost: x\r\nX-Twilio-Signature: bogus\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 32768
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
    assert status_of(forkline.raw(head + body)) in (403, 413)
    assert forkline.healthz() == 200


@pytest.mark.slow
def test_signed_small_callback_still_works(forkline):
    form = {"CallSid": "CA" + "b" * 32, "CallStatus": "ringing"}
    sig = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + "/twilio/call-events", form)
    body = "&".join(f"{k}={v}" for k, v in form.items()).encode()
    head = post_head("/twilio/call-events", len(body), {"X-Twilio-Signature": sig})
    assert status_of(forkline.raw(head + body)) in (200, 204)


@pytest.mark.slow
def test_api_body_over_its_cap_is_413(forkline):
    head = post_head("/api/conferences", 2 * 1024 * 1024, {"Authorization": "Bearer x"})
    assert status_of(forkline.raw(head + b"{")) == 413


def api_post(forkline, key: str, body: bytes) -> tuple[int, dict]:
    head = post_head("/api/conferences", len(body), {"Authorization": f"Bearer {key}"})
    head = head.replace(b"application/x-www-form-urlencoded", b"application/json")
    answer = forkline.raw(head + body)
    return status_of(answer), json.loads(answer.split(b"\r\n\r\n", 1)[1] or b"{}")


@pytest.mark.slow
def test_json_nested_1000_deep_is_422(forkline):
    key = forkline.tenant("deep")
    status, body = api_post(forkline, key, b'{"name": ' + b"[" * 1000 + b"]" * 1000 + b"}")
    assert status == 422 and "nested" in json.dumps(body)
    assert forkline.healthz() == 200


@pytest.mark.slow
@pytest.mark.parametrize("field", [{"name": "room\n"}, {"to": "+15550000005\n"}])
def test_trailing_newline_in_name_or_number_is_422(forkline, field):
    key = forkline.tenant("newline-" + str(len(field["name" if "name" in field else "to"])))
    conf = {"name": "room", "participants": [{"to": "+15550000005", "role": "customer"}]}
    if "name" in field:
        conf["name"] = field["name"]
    else:
        conf["participants"][0]["to"] = field["to"]
    status, body = api_post(forkline, key, json.dumps(conf).encode())
    assert status == 422, body


@pytest.mark.slow
def test_log_lines_cannot_be_forged_with_an_encoded_newline(forkline):
    fake = '{"level": "error", "msg": "forged"}'
    forkline.raw(f"GET /api/x%0A{fake.replace(' ', '%20')} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    forkline.raw(b"GET /healthz%0Aforged HTTP/1.1\r\nHost: x\r\n\r\n")
    assert forkline.healthz() == 200
    for line in forkline.log.read_text().splitlines():
        if line.strip():
            assert isinstance(json.loads(line), dict), line
            assert not line.startswith('{"level": "error", "msg": "forged"')
