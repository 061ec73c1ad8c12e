"""A one-hop reverse proxy like Heroku's router or a tunnel: it appends X-Forwarded-* and pipes.

It appends the client's address to X-Forwarded-For and its own scheme, host and port to
X-Forwarded-Proto/Host/Port (after whatever the client sent, as nginx's
$proxy_add_x_forwarded_for does), so a server trusting one proxy must read the last values.
Only the first request of a connection is rewritten, so every request gets `Connection: close`
(a WebSocket upgrade keeps its Connection: Upgrade and is piped both ways after the 101).
"""
from __future__ import annotations

import contextlib
import socket
import threading

APPENDED = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port")


class ReverseProxy:
    """Listens on 127.0.0.1:<port>, forwards to 127.0.0.1:`upstream_port` as `public_host`."""

    def __init__(self, upstream_port: int, public_host: str, scheme: str = "https") -> None:
        self.upstream_port, self.public_host, self.scheme = upstream_port, public_host, scheme
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, addr = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client, addr[0]), daemon=True).start()

    def rewrite(self, head: bytes, client_ip: str) -> bytes:
        """The request head with this hop's forwarded values appended."""
        lines = head.decode("latin-1").split("\r\n")
        headers: list[list[str]] = [line.split(":", 1) for line in lines[1:] if ":" in line]
        mine = {"x-forwarded-for": client_ip, "x-forwarded-proto": self.scheme,
                "x-forwarded-host": self.public_host,
                "x-forwarded-port": "443" if self.scheme == "https" else "80"}
        upgrade = any(k.strip().lower() == "upgrade" for k, _ in headers)
        out = [lines[0]]
        for name, value in headers:
            key = name.strip().lower()
            if key in mine:
                value = f"{value.strip()}, {mine.pop(key)}"
            elif key == "connection" and not upgrade:
                continue
            out.append(f"{name.strip()}: {value.strip()}")
        out += [f"{k.title()}: {v}" for k, v in mine.items()]
        if not upgrade:
            out.append("Connection: close")
        return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")

    def _serve(self, client: socket.socket, client_ip: str) -> None:
        with client, contextlib.suppress(OSError):
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = client.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            with socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
                upstream.sendall(self.rewrite(head, client_ip) + rest)
                pump = threading.Thread(target=_pipe, args=(client, upstream), daemon=True)
                pump.start()
                _pipe(upstream, client)
                pump.join(timeout=5)

    def close(self) -> None:
        """Stop accepting."""
        self.listener.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while True:
            chunk = src.recv(65536)
            if not chunk:
                break
            dst.sendall(chunk)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)
