"""websockets' sans-I/O ServerProtocol behind the hand-written codec's surface (bench only).

`ProtocolCodec.feed()` returns what `wsframe.FrameParser.feed()` returns ((opcode, payload)
tuples of whole messages and control frames, ProtocolError with a close code), and `text()` /
`binary()` build outbound frames as `wsframe.frame()` does, so both codecs can be timed doing
the same job. Fragments are reassembled here: ServerProtocol yields frames, and its own
assembler lives in websockets' asyncio/sync layers, which a gevent worker cannot use.
`ProtocolSocket` is FastSocket with its framing swapped for this codec, installed in the
gunicorn worker by `ws_codec_bench --e2e` (see bench/_hook_conf.py, hook `wsprotocol`).
"""
from __future__ import annotations

from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from conference.media.fastws import FastSocket
from conference.media.wsframe import ProtocolError

_DATA = (Opcode.TEXT, Opcode.BINARY)


class ProtocolCodec:
    """One server-side connection's framing done by websockets.server.ServerProtocol."""

    def __init__(self, max_message: int = 1 << 20, max_fragments: int = 64) -> None:
        # The HTTP upgrade has already been answered (by simple-websocket): start OPEN.
        self.proto = ServerProtocol(state=State.OPEN, max_size=max_message)
        self.max_fragments = max_fragments
        self.replies: list[bytes] = []  # pongs / close frames the protocol wants written
        self._parts: list[Any] = []  # bytes (typed bytes | bytearray | memoryview)
        self._opcode = 0

    def feed(self, data: bytes) -> list[tuple[int, Any]]:
        """Add received bytes; return every message/control frame now complete."""
        proto = self.proto
        proto.receive_data(data)
        out: list[tuple[int, Any]] = []
        for fr in proto.events_received():
            if not isinstance(fr, Frame):
                continue  # no HTTP events once OPEN
            op = fr.opcode
            if op is Opcode.CONT:
                self._parts.append(fr.data)
                if len(self._parts) > self.max_fragments:
                    raise ProtocolError(1009, "too many fragments in one message")
                if fr.fin:
                    out.append((self._opcode, b"".join(self._parts)))
                    self._parts = []
            elif op in _DATA and not fr.fin:
                self._opcode, self._parts = int(op), [fr.data]
            else:
                out.append((int(op), fr.data))
        self.replies = proto.data_to_send()
        if proto.parser_exc is not None:
            code = proto.close_sent.code if proto.close_sent is not None else 1002
            raise ProtocolError(int(code), str(proto.parser_exc))
        return out

    def text(self, payload: bytes) -> bytes:
        """One final, unmasked server text frame."""
        self.proto.send_text(payload)
        return b"".join(self.proto.data_to_send())

    def binary(self, payload: bytes) -> bytes:
        """One final, unmasked server binary frame."""
        self.proto.send_binary(payload)
        return b"".join(self.proto.data_to_send())


class ProtocolSocket(FastSocket):
    """FastSocket whose data frames are parsed and built by ServerProtocol (bench variant).

    Only the data path is swapped (what every media frame pays); ping/pong and close replies
    keep FastSocket's own frames, which is cost-neutral for a media stream."""

    def __init__(self, ws, max_message: int = 1 << 20) -> None:
        super().__init__(ws, max_message)
        self.codec = ProtocolCodec(max_message)
        self.parser = self.codec  # type: ignore[assignment]

    def send(self, text: str | bytes) -> None:
        """Send one message: str as a text frame, bytes as binary."""
        self._check_open()
        if isinstance(text, str):
            self._write(self.codec.text(text.encode()))
        else:
            self._write(self.codec.binary(text))

    def send_many(self, texts: list[str]) -> None:
        """Send several text messages with one write."""
        self._check_open()
        self._write(b"".join(self.codec.text(text.encode()) for text in texts))

    def _check_open(self) -> None:
        if not self.connected:
            from simple_websocket import ConnectionClosed

            raise ConnectionClosed(self.close_code or 1006, "")


def install() -> None:
    """Make the media routes wrap their sockets in ProtocolSocket (in this process)."""
    import sys

    from conference.media import sockets

    sockets.FastSocket = ProtocolSocket  # type: ignore[misc]
    print(INSTALLED, file=sys.stderr, flush=True)


INSTALLED = "bench: media sockets framed by websockets.server.ServerProtocol"
