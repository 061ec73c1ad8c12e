"""Per-frame cost of the media plane's pieces, in µs per echoed 20 ms frame (best of --repeat).

  .venv/bin/python -m bench.media_micro [--frames 20000] [--repeat 5]

Runs under gevent (patched, like a gunicorn gevent worker) so the greenlet hops cost what they
cost in production. No sockets: bench/media_bench.py measures those.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse
import base64
import json
import queue
import threading
import time

import gevent

from agents.base import AgentProfile
from agents.echo import EchoSession
from conference.media.codec import Encoder, parse
from conference.media.playout import PlayoutTracker
from conference.media.replay import ReplayStore
from conference.media.stream_state import StreamState
from conference.media.taps import TapHub

SID = "MZ" + "a" * 32
_MEDIA = ('{"event":"media","sequenceNumber":"%d","media":{"track":"inbound","chunk":"%d",'
          '"timestamp":"%d","payload":"%s"},"streamSid":"%s"}')


def messages(n: int) -> tuple[str, list[str]]:
    """A `start` and n Twilio `media` messages of one stream."""
    payload = base64.b64encode(bytes(range(160))).decode()
    start = json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": SID, "start": {
        "accountSid": "AC" + "b" * 32, "streamSid": SID, "callSid": "CA" + "c" * 32,
        "tracks": ["inbound"], "customParameters": {},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
    media = [_MEDIA % (i + 2, i + 1, i * 20, payload, SID) for i in range(n)]
    return start, media


def greenlet_hops(n: int, timeout: float | None) -> None:
    """Reader puts into a queue; an agent greenlet gets (with `timeout`) and sets an Event;
    a sender greenlet waits on it: the two hops an echoed frame takes in `LiveCall`/`AiLeg`."""
    q, wake, done = queue.SimpleQueue(), threading.Event(), [0]

    def agent() -> None:
        for _ in range(n):
            q.get(timeout=timeout)
            wake.set()

    def sender() -> None:
        while done[0] < n:
            wake.wait()
            wake.clear()
            done[0] += 1

    workers = [gevent.spawn(agent), gevent.spawn(sender)]
    for i in range(n):
        q.put(i)
        gevent.sleep(0)
    workers[0].join()
    workers[1].kill()


def masked(payload: bytes) -> bytes:
    """A masked client text frame (what Twilio sends)."""
    mask = b"\x01\x02\x03\x04"
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes((0x81, 0x80 | 126)) + len(payload).to_bytes(2, "big") + mask + body


def ws_layers(media: list[str]) -> dict:
    """wsproto (what flask-sock uses) vs the lean prototype: parse a frame, build a reply."""
    from wsproto.frame_protocol import FrameProtocol

    from bench.flask_lean import TEXT, FrameReader, frame

    wire = [masked(m.encode()) for m in media]

    def wsproto_layer() -> None:
        proto = FrameProtocol(client=False, extensions=[])
        for data in wire:
            proto.receive_bytes(data)
            for fr in proto.received_frames():
                proto.send_data(fr.payload, fin=True)

    def lean_layer() -> None:
        reader = FrameReader()
        for data in wire:
            for _, payload in reader.feed(data):
                frame(TEXT, payload)

    return {"wsproto frame in + frame out": wsproto_layer,
            "lean FrameReader + frame()": lean_layer}


def cases(n: int) -> dict:
    """name -> zero-argument callable doing the work for n frames."""
    start, media = messages(n)
    state = StreamState()
    state.receive(parse(start))
    parsed = [parse(m) for m in media]
    store, taps = ReplayStore(), TapHub()
    replay = store.get("CA1")
    echo = EchoSession(AgentProfile(), {})
    echo.connect()

    def rings() -> None:
        for msg in parsed:
            store.add_inbound(replay, msg.payload)
            taps.publish("mix:x", msg.payload)

    def agent() -> None:
        for msg in parsed:
            echo.send_audio(msg.payload)
            echo.next_event(timeout=0.5)

    def playout() -> None:
        tracker, enc, now = PlayoutTracker(300, 150, 100), Encoder(SID), 0.0
        for msg in parsed:
            tracker.push("echo-1", msg.payload)
            for kind, item in tracker.pull(now):
                if kind == "media":
                    enc.media(item)
                else:
                    enc.mark(item)
                    tracker.on_mark(item, now)
            now += 20

    def plain_json() -> None:
        for raw in media:
            msg = json.loads(raw)
            json.dumps({"event": "media", "streamSid": SID,
                        "media": {"payload": msg["media"]["payload"]}})

    return {
        "codec.parse": lambda: [parse(m) for m in media],
        "StreamState.receive": lambda: [state.receive(p) for p in parsed],
        "replay ring + taps.publish": rings,
        "EchoSession send_audio+next_event": agent,
        "PlayoutTracker push/pull/on_mark + Encoder": playout,
        "greenlet hops (get timeout=0.5)": lambda: greenlet_hops(n, 0.5),
        "greenlet hops (get, no timeout)": lambda: greenlet_hops(n, None),
        "gevent.sleep(0) alone (hop floor)": lambda: [gevent.sleep(0) for _ in range(n)],
        "flask echo: json.loads + json.dumps": plain_json,
        **ws_layers(media),
    }


def main() -> None:
    """Print the best-of-repeat cost of each case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for name, fn in cases(args.frames).items():
        best = float("inf")
        for _ in range(args.repeat):
            began = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - began)
        print(f"{name:44s} {best / args.frames * 1e6:7.2f} µs/frame")


if __name__ == "__main__":
    main()
