"""Console users: the CLI, argon2 hashes, sessions in hardened cookies, sign-in limits."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from support.console import PASSWORD, csrf_token, make_tenant, sign_in

from app import create_app
from models import ConsoleUser, get_session


def test_cli_creates_user_with_password_from_stdin(twilio_app, runner):
    make_tenant(twilio_app, "acme")
    result = runner.invoke(args=["users", "create", "--tenant", "acme", "--email",
                                 "Ann@Acme.test", "--role", "supervisor"],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    with twilio_app.app_context():
        user = get_session().scalar(sa.select(ConsoleUser))
        assert (user.email, user.role) == ("ann@acme.test", "supervisor")
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert sign_in(twilio_app.test_client(), "acme", "ann@acme.test").status_code == 302


def test_cli_has_no_password_argument_and_refuses_bad_input(twilio_app, runner):
    make_tenant(twilio_app, "acme")
    base = ["users", "create", "--tenant", "acme", "--email", "a@acme.test"]
    assert runner.invoke(args=base + ["--role", "admin", "--password", "x"]).exit_code == 2
    assert runner.invoke(args=base + ["--role", "owner"], input=PASSWORD).exit_code == 2
    short = runner.invoke(args=base + ["--role", "admin"], input="short\n")
    assert short.exit_code == 1 and "at least 12" in short.output
    nobody = runner.invoke(args=["users", "create", "--tenant", "nope", "--email", "a@b.c",
                                 "--role", "admin"], input=PASSWORD)
    assert nobody.exit_code == 1 and "no tenant 'nope'" in nobody.output
    assert runner.invoke(args=base + ["--role", "admin"], input=PASSWORD).exit_code == 0
    again = runner.invoke(args=base + ["--role", "admin"], input=PASSWORD)
    assert again.exit_code == 1 and "already exists" in again.output


def test_sign_in_sets_hardened_session_cookie(twilio_app, tenants):
    client = twilio_app.test_client()
    response = sign_in(client, "acme", "sup@acme.test")
    assert response.status_code == 302 and response.location == "/console/"
    cookie = next(h for k, h in response.headers.items() if k == "Set-Cookie"
                  and h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie  # PUBLIC_URL is https in the test config
    assert client.get("/console/").status_code == 200


def test_cookie_not_secure_behind_plain_http(app_config):
    app = create_app(dict(app_config, PUBLIC_URL="http://127.0.0.1:5000"))
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


@pytest.mark.parametrize("tenant,email,password", [
    ("acme", "sup@acme.test", "wrong password!!"),
    ("globex", "sup@acme.test", PASSWORD),  # right password, other tenant
    ("acme", "nobody@acme.test", PASSWORD),
])
def test_bad_credentials_are_refused_alike(twilio_app, tenants, tenant, email, password):
    client = twilio_app.test_client()
    response = sign_in(client, tenant, email, password)
    assert response.status_code == 401
    assert "Wrong tenant, e-mail or password." in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 302


def test_sign_in_without_csrf_token_is_400(twilio_app, tenants):
    client = twilio_app.test_client()
    response = client.post("/console/signin", data={
        "tenant": "acme", "email": "sup@acme.test", "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_sign_in_is_rate_limited(twilio_app, tenants):
    twilio_app.config["CONSOLE_SIGNIN_LIMIT"] = "3 per minute"
    client = twilio_app.test_client()
    statuses = [sign_in(client, "acme", "sup@acme.test", "wrong password!!").status_code
                for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    # Even the right password is refused until the window passes; the form still renders.
    assert sign_in(client, "acme", "sup@acme.test").status_code == 429
    assert client.get("/console/signin").status_code == 200


def test_limits_are_per_app(twilio_app, app_config):
    other = create_app(dict(app_config))
    assert other.extensions["console_limiter"] is not twilio_app.extensions["console_limiter"]


def test_sign_out_ends_the_session(twilio_app, tenants):
    client = twilio_app.test_client()
    sign_in(client, "acme", "sup@acme.test")
    token = csrf_token(client.get("/console/").get_data(as_text=True))
    assert client.post("/console/signout").status_code == 400  # CSRF applies to sign-out too
    assert client.post("/console/signout", data={"csrf_token": token}).status_code == 302
    assert client.get("/console/").status_code == 302


def test_next_is_only_followed_inside_the_console(twilio_app, tenants):
    client = twilio_app.test_client()
    token = csrf_token(client.get("/console/signin").get_data(as_text=True))
    form = {"tenant": "acme", "email": "sup@acme.test", "password": PASSWORD,
            "csrf_token": token}
    response = client.post("/console/signin?next=//evil.test/console/", data=form)
    assert response.location == "/console/"
    client = twilio_app.test_client()
    token = csrf_token(client.get("/console/signin").get_data(as_text=True))
    response = client.post("/console/signin?next=/console/ended",
                           data=dict(form, csrf_token=token))
    assert response.location == "/console/ended"


def test_one_account_is_limited_across_addresses(twilio_app, tenants):
    twilio_app.config["CONSOLE_SIGNIN_ACCOUNT_LIMIT"] = "2 per minute"
    statuses = []
    for i in range(3):
        client = twilio_app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.0.0.{i + 1}"
        statuses.append(sign_in(client, "acme", "sup@acme.test", "wrong password!!").status_code)
    assert statuses == [401, 401, 429]
    other = twilio_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert sign_in(other, "acme", "boss@acme.test").status_code == 302  # other accounts work


def test_behind_a_proxy_the_forwarded_client_is_limited(twilio_app, tenants):
    from conference.security.proxy import TrustedProxies

    twilio_app.config.update(CONSOLE_SIGNIN_LIMIT="2 per minute")
    # As if started with TRUSTED_PROXY_COUNT=1: the app-wide ProxyFix the console relies on.
    twilio_app.wsgi_app = TrustedProxies(twilio_app.wsgi_app, 1)
    client = twilio_app.test_client()  # every request arrives from the proxy's address

    def attempt(forwarded: str, email: str) -> int:
        return client.post("/console/signin", headers={"X-Forwarded-For": forwarded}, data={
            "tenant": "acme", "email": email, "password": "wrong password!!",
            "csrf_token": csrf_token(client.get("/console/signin").get_data(as_text=True))},
        ).status_code

    assert [attempt("1.1.1.1", f"u{i}@acme.test") for i in range(3)] == [401, 401, 429]
    # A spoofed left-most entry does not escape: the proxy appends the real client last.
    assert attempt("9.9.9.9, 1.1.1.1", "v@acme.test") == 429
    assert attempt("2.2.2.2", "w@acme.test") == 401  # another client is not locked out


def test_sessions_are_signed_with_the_console_key(twilio_app, tenants, app_config):
    from flask.sessions import SecureCookieSessionInterface

    client = twilio_app.test_client()
    sign_in(client, "acme", "sup@acme.test")
    cookie = client.get_cookie("session").value
    console = twilio_app.session_interface.get_signing_serializer(twilio_app)
    assert console.loads(cookie)["_user_id"]
    stream_key = SecureCookieSessionInterface().get_signing_serializer(twilio_app)
    with pytest.raises(Exception, match="Signature"):
        stream_key.loads(cookie)  # SECRET_KEY (stream tokens) cannot forge console sessions
    explicit = create_app(dict(app_config, CONSOLE_SECRET_KEY="console-only-key"))
    assert explicit.config["WTF_CSRF_SECRET_KEY"] == "console-only-key"
