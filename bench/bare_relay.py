"""The baseline: a bare asyncio `websockets` echo relay speaking minimal Media Streams.

It answers every inbound `media` with an outbound `media` carrying the same payload and the
stream's streamSid, and ignores everything else (no marks, no signature check, no agent).
Usage: python bench/bare_relay.py [--host 127.0.0.1] [--port 0]; prints `LISTENING <port>`.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json

from websockets.asyncio.server import serve


async def relay(ws) -> None:
    """Echo the media of one stream until it closes."""
    stream_sid = None
    async for raw in ws:
        msg = json.loads(raw)
        event = msg.get("event")
        if event == "media" and stream_sid is not None:
            out = {"event": "media", "streamSid": stream_sid,
                   "media": {"payload": msg["media"]["payload"]}}
            await ws.send(json.dumps(out))
        elif event == "start":
            stream_sid = msg["start"]["streamSid"]
        elif event == "stop":
            break


async def main(host: str, port: int) -> None:
    """Serve until cancelled."""
    async with serve(relay, host, port, compression=None, ping_interval=None) as server:
        bound = server.sockets[0].getsockname()[1]
        print(f"LISTENING {bound}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.host, args.port))
