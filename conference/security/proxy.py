"""The trusted-proxy model: which URL this service is reached at, and whose headers say so.

PUBLIC_URL is the one source of callback URLs and of the URL a Twilio signature is checked
against; it is required outside development/testing. X-Forwarded-* headers are honoured only from
TRUSTED_PROXY_COUNT proxies (werkzeug's ProxyFix) and only as a bare scheme (http/https) and a bare
host[:port]: anything else is refused with 400, so a header cannot smuggle a path or a query into
a URL this service builds.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

DEV_ENVIRONMENTS = ("development", "testing")
_HOST_RE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                      r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?::[0-9]{1,5})?"
                      r"|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")
_SCHEMES = ("http", "https")
_PORT_RE = re.compile(r"[0-9]{1,5}")


class ConfigError(RuntimeError):
    """The configuration cannot be served safely; the message says what to set."""


def is_dev(config: dict) -> bool:
    """True in development or testing, where PUBLIC_URL may be left unset."""
    return bool(config.get("TESTING")) or config.get("ENVIRONMENT") in DEV_ENVIRONMENTS


def check_public_url(config: dict) -> str | None:
    """The validated PUBLIC_URL (no trailing slash), or None in development; else ConfigError."""
    url = config.get("PUBLIC_URL")
    if not url:
        if is_dev(config):
            return None
        raise ConfigError("PUBLIC_URL is required outside development/testing (set it to the "
                          "public https:// address Twilio reaches, or FORKLINE_ENV=development)")
    parts = urlsplit(url)
    if (parts.scheme not in _SCHEMES or not _HOST_RE.fullmatch(parts.netloc or "")
            or parts.query or parts.fragment):
        raise ConfigError(f"PUBLIC_URL must be http(s)://host[:port][/prefix], got {url!r}")
    return url.rstrip("/")


def check_secret_key(config: dict) -> None:
    """SECRET_KEY must be set in production and must not be the Twilio auth token."""
    key = config.get("SECRET_KEY")
    if not key:
        raise ConfigError("FORKLINE_SECRET_KEY is required outside development/testing "
                          "(it signs stream tokens; use a random value of 32+ bytes)")
    if key == config.get("TWILIO_AUTH_TOKEN") or key in config.get("SECRET_KEY_FALLBACKS", []):
        raise ConfigError("FORKLINE_SECRET_KEY must differ from TWILIO_AUTH_TOKEN and from "
                          "FORKLINE_SECRET_KEY_PREVIOUS (one secret, one purpose)")


def bare_forwarded(environ: dict, count: int) -> str | None:
    """Why the last `count` forwarded values are unacceptable, or None when they are bare."""
    checks = (("HTTP_X_FORWARDED_PROTO", lambda v: v in _SCHEMES),
              ("HTTP_X_FORWARDED_HOST", _HOST_RE.fullmatch),
              ("HTTP_X_FORWARDED_PORT", _PORT_RE.fullmatch))
    for key, ok in checks:
        raw = environ.get(key)
        if raw is None:
            continue
        values = [v.strip() for v in raw.split(",")][-count:]
        if not all(ok(v) for v in values):
            header = key[5:].replace("_", "-").title()
            return f"{header} must be a bare scheme (http/https), host[:port] or port"
    return None


class TrustedProxies:
    """WSGI middleware: ProxyFix for `count` proxies, after refusing non-bare forwarded values."""

    def __init__(self, wsgi_app, count: int) -> None:
        self.count = count
        self.inner = wsgi_app
        self.fixed = ProxyFix(wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count)

    def __call__(self, environ, start_response):
        if self.count <= 0:
            return self.inner(environ, start_response)
        reason = bare_forwarded(environ, self.count)
        if reason:
            return Response(reason + "\n", status=400, mimetype="text/plain")(
                environ, start_response)
        return self.fixed(environ, start_response)


def init_app(app) -> None:
    """Validate PUBLIC_URL and put the trusted-proxy middleware in front of the app."""
    app.config["PUBLIC_URL"] = check_public_url(app.config)
    check_secret_key(app.config)
    count = int(app.config.get("TRUSTED_PROXY_COUNT") or 0)
    app.wsgi_app = TrustedProxies(app.wsgi_app, count)
