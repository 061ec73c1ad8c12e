"""The lookup tool's webhook call: no redirects, https only, bounded answers, its own key."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conference.security.outbound import MAX_ANSWER, OutboundRefused, post_signed_json
from conference.security.tool_secrets import tool_secret


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:1/internal-secrets")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"ok": 1}' if self.path == "/ok" else b'"' + b"x" * (MAX_ANSWER + 10) + b'"'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    # shutdown() waits for the serve loop's next poll: 0.5 s by default, per test.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                     daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_loopback_http_works_in_development(hook):
    assert post_signed_json(hook + "/ok", {}, ["k"], 3, allow_http_loopback=True) == {"ok": 1}


def test_a_redirect_is_refused_not_followed(hook):
    with pytest.raises(OutboundRefused, match="redirect"):
        post_signed_json(hook + "/redirect", {}, ["k"], 3, allow_http_loopback=True)


def test_an_oversized_answer_is_refused(hook):
    with pytest.raises(OutboundRefused, match="over"):
        post_signed_json(hook + "/big", {}, ["k"], 3, allow_http_loopback=True)


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/x", "http://example.com/x",
                                 "ftp://example.com/x", "file:///etc/passwd"])
def test_plain_http_is_refused_in_production(url):
    with pytest.raises(OutboundRefused, match="https"):
        post_signed_json(url, {}, ["k"], 3, allow_http_loopback=False)


def test_http_to_a_non_loopback_host_is_refused_even_in_development():
    with pytest.raises(OutboundRefused):
        post_signed_json("http://10.0.0.1/x", {}, ["k"], 3, allow_http_loopback=True)


def test_each_tenant_and_each_rotation_has_its_own_secret():
    assert tool_secret("master", 1, "n1") != tool_secret("master", 2, "n1")
    assert tool_secret("master", 1, "n1") != tool_secret("master", 1, "n2")
    # The stored nonce alone derives nothing: the secret needs TOOL_SIGNING_KEY too.
    assert tool_secret("master", 1, "n1") != tool_secret("guess", 1, "n1")
