"""A real Forkline for the attack suite: the Procfile's release and web lines (gunicorn+gevent)."""
from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from support.processes import free_port, procfile
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parents[2]
AUTH_TOKEN = "attack-auth-token-0123456789abcdef"
PUBLIC = "https://forkline.attack.test"
ACCOUNT_SID = "AC" + "0" * 31 + "1"


def http_get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    """(status, body) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def read_response(s: socket.socket) -> bytes:
    """One HTTP response (head and Content-Length body) from `s`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class Forkline:
    """A running gunicorn serving app:create_app() with its log file.

    `port` is where attacks connect (a reverse proxy's port when one is in front); `public` is
    the base URL Twilio signs and calls back: PUBLIC_URL, or in development the URL it is
    reached at (its own address, or the proxy's public host).
    """

    def __init__(self, proc: subprocess.Popen, port: int, log: Path, env: dict) -> None:
        self.proc, self.port, self.log, self.env = proc, port, log, env
        self.direct_port, self.proxy = port, None
        self.public = env.get("PUBLIC_URL") or f"http://127.0.0.1:{port}"

    @property
    def base(self) -> str:
        """http:// base of the port attacks connect to."""
        return f"http://127.0.0.1:{self.port}"

    def behind(self, proxy) -> Forkline:
        """Route every attack through `proxy` (a support.reverse_proxy.ReverseProxy)."""
        self.proxy, self.port = proxy, proxy.port
        if not self.env.get("PUBLIC_URL"):
            self.public = f"{proxy.scheme}://{proxy.public_host}"
        return self

    def healthz(self) -> int:
        """The /healthz status (the worker answers)."""
        return http_get(self.base + "/healthz")[0]

    def raw(self, data: bytes, read_timeout: float = 10.0) -> bytes:
        """Send raw bytes on a fresh connection; the first whole response back."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=read_timeout) as s:
            with contextlib.suppress(OSError):  # the server may answer before a huge body
                s.sendall(data)
            return read_response(s)

    def flask(self, *args: str) -> str:
        """Run a `flask --app app` command against this server's database."""
        r = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                           env=self.env, capture_output=True, text=True, timeout=60, check=True)
        return r.stdout

    def tenant(self, name: str, *options: str) -> str:
        """Create tenant `name`; its API key."""
        return self.flask("tenants", "create", name, *options).strip().splitlines()[-1]


def start_forkline(tmp: Path, public: str | None = PUBLIC, **extra_env: str) -> Forkline:
    """Migrate, then boot the Procfile's web line; returns once /healthz answers.

    With `public` None, PUBLIC_URL is unset and the server runs in development mode.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TWILIO_", "OPENAI_", "PUBLIC_URL", "FORKLINE_ENV"))}
    env.update(PATH=f"{Path(sys.executable).parent}:{env['PATH']}", PORT=str(free_port()),
               DATABASE_URL=f"sqlite:///{tmp / 'attack.sqlite'}", LOG_LEVEL="INFO",
               AI_BACKEND="echo", TWILIO_AUTH_TOKEN=AUTH_TOKEN,
               TWILIO_ACCOUNT_SID=ACCOUNT_SID, FORKLINE_SECRET_KEY="attack-secret",
               RECORDINGS_DIR=str(tmp / "recordings"),
               **({"PUBLIC_URL": public} if public else {"FORKLINE_ENV": "development"}),
               **extra_env)
    subprocess.run(procfile()["release"], shell=True, cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    log = tmp / "web.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(procfile()["web"], shell=True, cwd=ROOT, env=env, stdout=sink,
                                stderr=sink, start_new_session=True)
    server = Forkline(proc, int(env["PORT"]), log, env)
    deadline = time.monotonic() + 60
    while True:  # poll until the worker answers (or the server died)
        assert proc.poll() is None, log.read_text()
        try:
            server.healthz()
            return server
        except OSError:
            assert time.monotonic() < deadline, "gunicorn did not come up:\n" + log.read_text()
            time.sleep(0.1)


def upgrade(forkline, path: str = "/twilio/fork", extensions: str = "") -> socket.socket:
    """A signed WebSocket upgrade, as Twilio opens it (to the server's public URL); the socket
    after the 101."""
    scheme, _, rest = forkline.public.partition("://")
    url = {"https": "wss", "http": "ws"}[scheme] + "://" + rest + path
    sig = RequestValidator(AUTH_TOKEN).compute_signature(url, {})
    key = base64.b64encode(os.urandom(16)).decode()
    head = (f"GET {path} HTTP/1.1\r\nHost: {rest}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"X-Twilio-Signature: {sig}\r\n")
    if extensions:
        head += f"Sec-WebSocket-Extensions: {extensions}\r\n"
    s = socket.create_connection(("127.0.0.1", forkline.port), timeout=20)
    s.sendall((head + "\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    assert data.startswith(b"HTTP/1.1 101"), data
    return s


def masked(b0: int, payload: bytes) -> bytes:
    """A client frame (zero mask, which is legal) with first byte `b0`."""
    n = len(payload)
    length = bytes((0x80 | n,)) if n < 126 else bytes((0x80 | 126,)) + n.to_bytes(2, "big")
    return bytes((b0,)) + length + b"\0\0\0\0" + payload


def start_message(call_sid: str, params: dict) -> bytes:
    """A Twilio `start` text frame for `call_sid` with customParameters `params`."""
    sid = "MZ" + call_sid[2:]
    msg = {"event": "start", "sequenceNumber": "1", "streamSid": sid,
           "start": {"accountSid": ACCOUNT_SID, "streamSid": sid, "callSid": call_sid,
                     "tracks": ["inbound"], "customParameters": params,
                     "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                     "channels": 1}}}
    return masked(0x81, json.dumps(msg).encode())


def close_code(s: socket.socket) -> int:
    """Read until the server's close frame; its status code."""
    data = b""
    while True:
        chunk = s.recv(65536)
        assert chunk, "connection ended without a close frame"
        data += chunk
        while len(data) >= 2:
            n = data[1] & 0x7F
            if len(data) < 2 + n:
                break
            if data[0] & 0x0F == 0x8:
                return int.from_bytes(data[2:4], "big")
            data = data[2 + n:]
