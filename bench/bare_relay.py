"""The baseline: a bare asyncio `websockets` relay speaking minimal Media Streams.

Echo (default, the AI-leg baseline): it answers every inbound `media` with an outbound `media`
carrying the same payload and the stream's streamSid, and ignores everything else (no marks, no
signature check, no agent). `--sink` (the fork baseline): it only reads, parses each message and
decodes its audio, as the least any consumer of a one-way Twilio fork must do, and runs the same
loop-stall meter as Forkline's hub (conference/media/loopstall.StallMeter). Either way a
WebSocket to `/stats` gets one JSON message: media frames counted, streams open, and the
cumulative loop-stall buckets (le -> count), as Forkline's /metrics gives them.
Usage: python bench/bare_relay.py [--host 127.0.0.1] [--port 0] [--sink]; prints `LISTENING <port>`.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import sys
import time
from pathlib import Path

from websockets.asyncio.server import serve


class Stats:
    """What /stats reports; one per process."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.frames_in = self.open = 0
        self.bounds = (*bounds, float("inf"))
        self.counts = [0] * len(self.bounds)

    def observe_stall(self, seconds: float) -> None:
        """One window's worst stall into the cumulative buckets."""
        for i, bound in enumerate(self.bounds):
            if seconds <= bound:
                self.counts[i] += 1

    def as_json(self) -> str:
        """The /stats answer."""
        stall = {str(b): c for b, c in zip(self.bounds, self.counts, strict=True)}
        return json.dumps({"frames_in": self.frames_in, "open": self.open, "stall": stall})


async def relay(ws, stats: Stats) -> None:
    """Echo the media of one stream until it closes."""
    stream_sid = None
    async for raw in ws:
        msg = json.loads(raw)
        event = msg.get("event")
        if event == "media" and stream_sid is not None:
            stats.frames_in += 1
            out = {"event": "media", "streamSid": stream_sid,
                   "media": {"payload": msg["media"]["payload"]}}
            await ws.send(json.dumps(out))
        elif event == "start":
            stream_sid = msg["start"]["streamSid"]
        elif event == "stop":
            break


async def sink(ws, stats: Stats) -> None:
    """Read one fork until it stops: parse, decode the audio, count."""
    async for raw in ws:
        msg = json.loads(raw)
        event = msg.get("event")
        if event == "media":
            base64.b64decode(msg["media"]["payload"])
            stats.frames_in += 1
        elif event == "stop":
            break


async def monitor(stats: Stats) -> None:
    """Forkline's loop-stall meter on this event loop: worst timer lateness per window."""
    from conference.media.loopstall import StallMeter

    meter = StallMeter()
    before = time.perf_counter()
    while True:
        await asyncio.sleep(meter.tick_s)
        now = time.perf_counter()
        worst = meter.observe(now - before)
        before = now
        if worst is not None:
            stats.observe_stall(max(0.0, worst))


async def main(host: str, port: int, as_sink: bool) -> None:
    """Serve until cancelled."""
    bounds: tuple[float, ...] = ()
    if as_sink:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from conference.media.loopstall import LOOP_STALL

        bounds = tuple(LOOP_STALL._upper_bounds[:-1])  # the same buckets as Forkline's
    stats = Stats(bounds)
    stream = sink if as_sink else relay

    async def handler(ws) -> None:
        if ws.request.path == "/stats":
            await ws.send(stats.as_json())
            return
        stats.open += 1
        try:
            await stream(ws, stats)
        finally:
            stats.open -= 1

    watcher = asyncio.create_task(monitor(stats)) if as_sink else None
    async with serve(handler, host, port, compression=None, ping_interval=None) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"LISTENING {bound}", flush=True)
        await server.serve_forever()
    if watcher is not None:
        watcher.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--sink", action="store_true", help="read forks, echo nothing")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.host, args.port, args.sink))
