"""HTTP fetches the simulated Twilio makes: signed TwiML requests and <Play> audio."""
from __future__ import annotations

import requests

from .audio import read_wav_ulaw
from .callbacks import signed_request


class FetchError(RuntimeError):
    """A TwiML or audio URL could not be fetched (Twilio error 11200)."""


def twiml(url: str, method: str, params: dict, auth_token: str, timeout_s: float = 10.0) -> str:
    """POST (or GET) the voice params, signed; the body of a 2xx answer."""
    try:
        resp = requests.request(timeout=timeout_s,
                                **signed_request(url, method, params, auth_token))
    except requests.RequestException as exc:
        raise FetchError(f"{url.split('?')[0]}: {type(exc).__name__}") from None
    if not 200 <= resp.status_code < 300:
        raise FetchError(f"{url.split('?')[0]} answered HTTP {resp.status_code}")
    return resp.text


def audio(url: str, timeout_s: float = 10.0) -> bytes:
    """A WAV file (any rate) or raw 8 kHz μ-law, as μ-law."""
    try:
        resp = requests.get(url, timeout=timeout_s)
        resp.raise_for_status()
    except requests.RequestException as exc:
        raise FetchError(f"{url.split('?')[0]}: {type(exc).__name__}") from None
    body = resp.content
    try:
        return read_wav_ulaw(body) if body[:4] == b"RIFF" else body
    except ValueError as exc:
        raise FetchError(f"{url.split('?')[0]}: {exc}") from None
