"""A tiny TCP proxy between Forkline and a shared service (PostgreSQL, Redis) that a test can cut.

An outage without stopping the machine's service (other processes use it): `cut()` closes every
proxied connection and answers new ones by closing them at once (the client sees the server go
away, as after a crash or restart); `restore()` forwards again. Threads, not gevent: it runs in
the test process or in a bench, never inside the server under test.
"""
from __future__ import annotations

import contextlib
import socket
import threading
from urllib.parse import urlsplit, urlunsplit


class TcpProxy:
    """127.0.0.1:<port> forwarded to (host, port) until cut."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = threading.Event()
        self.up.set()
        self.accepted = self.refused = 0
        self._pairs: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, name="tcpproxy", daemon=True).start()

    @classmethod
    def in_front_of(cls, url: str, default_port: int) -> TcpProxy:
        """A proxy to the server a database or redis:// URL names."""
        parts = urlsplit(url)
        return cls(parts.hostname or "127.0.0.1", parts.port or default_port)

    def url_for(self, url: str) -> str:
        """`url` pointed at this proxy (same credentials, database and query)."""
        parts = urlsplit(url)
        auth = parts.netloc.rpartition("@")[0]
        netloc = (auth + "@" if auth else "") + f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def cut(self) -> None:
        """Sever every connection and refuse new ones until restore()."""
        self.up.clear()
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for sock in pairs:
            _close(sock)

    def restore(self) -> None:
        """Forward new connections again."""
        self.up.set()

    def close(self) -> None:
        """Stop the proxy."""
        self._closed = True
        self.cut()
        _close(self.listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                self.refused += 1
                _close(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            self.accepted += 1
            with self._lock:
                self._pairs.update((client, server))
            for src, dst in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(src)
            _close(dst)
            with self._lock:
                self._pairs.discard(src)
                self._pairs.discard(dst)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
