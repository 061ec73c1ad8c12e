"""Twilio signature checks (webhooks and WebSocket upgrades) and short-lived stream tokens."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Request, abort, current_app, request
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from twilio.request_validator import RequestValidator

_WS_SCHEMES = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
_HTTP_SCHEMES = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def public_url(req: Request, public_base: str | None, websocket: bool = False) -> str:
    """Rebuild the URL Twilio signed: PUBLIC_URL, else (development) the request's own host."""
    path = req.full_path if req.query_string else req.path
    if public_base:
        parts = urlsplit(public_base.rstrip("/"))
        scheme, host, prefix = parts.scheme, parts.netloc, parts.path
    else:
        # req.scheme/req.host honour X-Forwarded-* only behind TRUSTED_PROXY_COUNT proxies.
        scheme, host, prefix = req.scheme, req.host, ""
    table = _WS_SCHEMES if websocket else _HTTP_SCHEMES
    return f"{table.get(scheme, scheme)}://{host}{prefix}{path}"


def is_valid_twilio_request(req: Request, auth_token: str, public_base: str | None) -> bool:
    """True when X-Twilio-Signature matches this request under the account's auth token."""
    signature = req.headers.get("X-Twilio-Signature", "")
    if not signature or not auth_token:
        return False
    validator = RequestValidator(auth_token)
    is_upgrade = req.headers.get("Upgrade", "").lower() == "websocket"
    if is_upgrade:
        # Twilio signs the upgrade as wss://host/path with query params passed as params.
        url = public_url(req, public_base, websocket=True).split("?", 1)[0]
        return validator.validate(url, req.args.to_dict(), signature)
    url = public_url(req, public_base)
    if "bodySHA256" in req.args:
        return validator.validate(url, req.get_data(as_text=True), signature)
    return validator.validate(url, req.form, signature)


def check_twilio_signature() -> None:
    """Abort with 403 unless the current request is signed by Twilio."""
    cfg = current_app.config
    if not is_valid_twilio_request(request, cfg["TWILIO_AUTH_TOKEN"], cfg["PUBLIC_URL"]):
        abort(403, description="invalid or missing X-Twilio-Signature")


def twilio_signed(view):
    """Decorator: the view runs only for correctly signed Twilio requests."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        check_twilio_signature()
        return view(*args, **kwargs)

    return wrapper


class _IssuedAtSigner(TimestampSigner):
    """A TimestampSigner whose timestamp is given: the same claims give the same token."""

    def __init__(self, *args, issued_at: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.issued_at = issued_at

    def get_timestamp(self) -> int:
        return self.issued_at if self.issued_at is not None else super().get_timestamp()


def _serializer(secret: str | list[str], issued_at: int | None = None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="forkline-stream-token", signer=_IssuedAtSigner,
                                  signer_kwargs={"issued_at": issued_at})


def make_stream_token(secret: str, claims: dict, issued_at: float | None = None) -> str:
    """Sign `claims` (conference, tenant, kind, call, ...) into an opaque, timestamped token.

    With `issued_at` (the leg's own start) the token is a pure function of its call, so a
    replayed webhook for the same CallSid gets the same token back, never a second one.
    """
    return _serializer(secret, None if issued_at is None else int(issued_at)).dumps(claims)


def stream_token_keys(config) -> list[str]:
    """Keys a stream token may be signed with: the previous ones (a rotation), then SECRET_KEY."""
    return [*config.get("SECRET_KEY_FALLBACKS", []), config["SECRET_KEY"]]


def read_stream_token(secret: str | list[str], token: str, max_age_s: float) -> dict | None:
    """The claims of a valid, unexpired token (signed by any of `secret`), or None."""
    try:
        return _serializer(secret).loads(token, max_age=max_age_s)
    except (BadSignature, SignatureExpired):
        return None
