"""CPU cost of the media plane's sans-I/O hot path per 20 ms frame (no sockets, no greenlets).

One AI-leg frame in and its echo out: WebSocket unframe, codec parse, stream state, replay ring,
tap fan-out, echo agent, playout tracker (marks echoed at once) and the outbound media frame.
Process CPU time is used, so a busy machine inflates it little.

  .venv/bin/python -m bench.media_hotpath [--frames 50000]
"""
from __future__ import annotations

import argparse
import base64
import os
import time

import orjson

from agents.base import AgentProfile
from agents.echo import EchoSession
from conference.media.codec import Encoder, parse
from conference.media.playout import PlayoutTracker
from conference.media.replay import ReplayStore
from conference.media.stream_state import StreamState
from conference.media.taps import TapHub
from conference.media.wsframe import OP_TEXT, FrameParser, frame, unmask


def client_frames(n: int) -> list[bytes]:
    """n masked WebSocket frames carrying Twilio media messages."""
    payload = base64.b64encode(bytes(range(160))).decode()
    mask = os.urandom(4)
    out = []
    for seq in range(2, n + 2):
        msg = orjson.dumps({"event": "media", "sequenceNumber": str(seq), "streamSid": "MZ1",
                            "media": {"track": "inbound", "chunk": str(seq),
                                      "timestamp": str(seq * 20), "payload": payload}})
        out.append(bytes((0x81, 0x80 | 126)) + len(msg).to_bytes(2, "big") + mask
                   + unmask(msg, mask))
    return out


def run(frames: list[bytes]) -> tuple[float, int]:
    """(CPU microseconds per frame, outbound messages)."""
    state, parser, enc = StreamState(), FrameParser(), Encoder("MZ1")
    tracker, store, taps = PlayoutTracker(), ReplayStore(), TapHub()
    replay = store.get("CA1")
    echo = EchoSession(AgentProfile(), {})
    echo.connect()
    state.receive(parse(orjson.dumps({
        "event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
        "start": {"streamSid": "MZ1", "accountSid": "AC1", "callSid": "CA1"}})))
    sent, now = 0, 0.0
    start = time.process_time()
    for data in frames:
        for _, raw in parser.feed(data):
            msg = state.receive(parse(raw))
            store.add_inbound(replay, msg.payload)
            taps.publish("mix:1:room", msg.payload)
            echo.send_audio(msg.payload)
            event = echo.next_event(0)
            tracker.push(event.item_id, event.ulaw)
            now += 20.0
            for kind, out in tracker.pull(now):
                if kind == "media":
                    frame(OP_TEXT, enc.media(out).encode())
                else:
                    frame(OP_TEXT, enc.mark(out).encode())
                    tracker.on_mark(out, now)
                sent += 1
    return (time.process_time() - start) / len(frames) * 1e6, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50_000)
    args = parser.parse_args()
    frames = client_frames(args.frames)
    run(frames[:2000])  # warm up
    per_frame, sent = run(frames)
    print(f"frames: {len(frames)}, outbound messages: {sent}")
    print(f"sans-I/O hot path: {per_frame:.1f} us CPU per frame in+out"
          f" = {per_frame * 50 / 1e4:.3f} % of a core per 50 fps stream")


if __name__ == "__main__":
    main()
