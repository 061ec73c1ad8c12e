"""The console's session cookie and CSRF tokens are signed with their own key."""
from __future__ import annotations

import hashlib
import hmac

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

PURPOSE = b"forkline console sessions and CSRF"


def console_key(app: Flask) -> str:
    """CONSOLE_SECRET_KEY, else a key derived from SECRET_KEY for this purpose only."""
    key = app.config.get("CONSOLE_SECRET_KEY")
    if key:
        return key
    return hmac.new(str(app.config["SECRET_KEY"]).encode(), PURPOSE, hashlib.sha256).hexdigest()


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, keyed by the console key instead of SECRET_KEY."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """The cookie serializer (same format as Flask's, another key)."""
        signer_kwargs = {"key_derivation": self.key_derivation, "digest_method": self.digest_method}
        return URLSafeTimedSerializer(app.config["CONSOLE_KEY"], salt=self.salt,
                                      serializer=self.serializer, signer_kwargs=signer_kwargs)


def init_app(app: Flask) -> None:
    """Install the console's session interface and CSRF key."""
    app.config["CONSOLE_KEY"] = console_key(app)
    app.config["WTF_CSRF_SECRET_KEY"] = app.config["CONSOLE_KEY"]
    app.session_interface = ConsoleSessionInterface()
