"""Hand-written frame codec vs websockets' sans-I/O ServerProtocol, on the same byte streams.

  .venv/bin/python -m bench.ws_codec_bench [--frames 2000] [--repeat 100]
  .venv/bin/python -m bench.ws_codec_bench --e2e-streams 100 [--e2e-rounds 2] [--nice -10]

Micro (no sockets, best of --repeat): per frame, (a) `wsframe.FrameParser.feed` +
`wsframe.frame` exactly as FastSocket uses them and (b) `websockets.server.ServerProtocol`
(receive_data / events_received / data_to_send, send_text; C speedups required) with the
fragment reassembly its I/O layers would do (bench/_ws_protocol.py). Streams: masked client
text frames of Twilio `media` JSON (20 ms of mu-law, base64) with a `mark` echo every 10th,
fed one frame per recv, 10 frames per recv, and cut at random points; outbound: Forkline's
own media/mark JSON as server text frames. Ratios are against (a), measured in the same run.

--e2e-streams N: the Forkline target (Procfile gunicorn, one worker, echo AI) twice, once with
FastSocket and once with ProtocolSocket (the same shell, framing by ServerProtocol), driven
by bench/_loadgen.py at N streams, server pinned to --server-cpu and the generator to
--gen-cpu with sched_setaffinity/taskset, rounds interleaved A/B.
"""
from __future__ import annotations

import argparse
import base64
import gc
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench._loadgen import _MEDIA, encode_frame
from bench._ws_protocol import INSTALLED, ProtocolCodec
from conference.media.codec import Encoder
from conference.media.wsframe import OP_BINARY, OP_TEXT, FrameParser, frame, unmask

SID = "MZ" + "a" * 32


def client_frame(payload: bytes, mask: bytes) -> bytes:
    """A masked, final client text frame (what Twilio sends)."""
    n = len(payload)
    head = bytes((0x81, 0x80 | n)) if n < 126 else (
        bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big"))
    return head + mask + unmask(payload, mask)


def inbound(n: int) -> list[bytes]:
    """n client frames: Twilio media messages, every 10th followed by a mark echo."""
    rng = random.Random(1)
    out = []
    for k in range(n):
        if k % 10 == 9:
            text = (f'{{"event":"mark","sequenceNumber":"{k + 2}","streamSid":"{SID}",'
                    f'"mark":{{"name":"g1-s{k}"}}}}')
        else:
            payload = base64.b64encode(encode_frame(k)).decode()
            text = _MEDIA % (k + 2, k + 1, k * 20, payload, SID)
        out.append(client_frame(text.encode(), rng.randbytes(4)))
    return out


def outbound(n: int) -> list[str]:
    """n server messages as Forkline's Encoder writes them: media, every 10th a mark."""
    enc = Encoder(SID)
    return [enc.mark(f"g1-s{k}") if k % 10 == 9 else enc.media(encode_frame(k))
            for k in range(n)]


def chunked(frames: list[bytes], per: int) -> list[bytes]:
    """`per` frames per recv (what a reader gets when it falls behind)."""
    return [b"".join(frames[i:i + per]) for i in range(0, len(frames), per)]


def random_cuts(frames: list[bytes]) -> list[bytes]:
    """The same bytes cut at random points (TCP segments never line up with frames)."""
    wire, rng, out, at = b"".join(frames), random.Random(2), [], 0
    while at < len(wire):
        step = rng.randint(1, 700)
        out.append(wire[at:at + step])
        at += step
    return out


def hand_in(chunks: list[bytes]) -> Callable[[], int]:
    """FastSocket.receive's codec work: feed, keep data messages."""
    def run() -> int:
        parser, pending = FrameParser(), []
        for data in chunks:
            for opcode, payload in parser.feed(data):
                if opcode in (OP_TEXT, OP_BINARY):
                    pending.append(payload)
        return len(pending)
    return run


def proto_in(chunks: list[bytes]) -> Callable[[], int]:
    """The same with ServerProtocol doing the framing."""
    def run() -> int:
        codec, pending = ProtocolCodec(), []
        for data in chunks:
            for opcode, payload in codec.feed(data):
                if opcode in (OP_TEXT, OP_BINARY):
                    pending.append(payload)
        return len(pending)
    return run


def hand_out(texts: list[str]) -> Callable[[], int]:
    """FastSocket.send's codec work: one server text frame per message."""
    return lambda: sum(len(frame(OP_TEXT, t.encode())) for t in texts)


def proto_out(texts: list[str]) -> Callable[[], int]:
    def run() -> int:
        codec = ProtocolCodec()
        return sum(len(codec.text(t.encode())) for t in texts)
    return run


def hand_echo(frames: list[bytes], texts: list[str]) -> Callable[[], int]:
    """One frame in, one frame out: an echoed 20 ms frame's whole framing cost."""
    def run() -> int:
        parser, sent = FrameParser(), 0
        for data, text in zip(frames, texts, strict=True):
            parser.feed(data)
            sent += len(frame(OP_TEXT, text.encode()))
        return sent
    return run


def proto_echo(frames: list[bytes], texts: list[str]) -> Callable[[], int]:
    def run() -> int:
        codec, sent = ProtocolCodec(), 0
        for data, text in zip(frames, texts, strict=True):
            codec.feed(data)
            sent += len(codec.text(text.encode()))
        return sent
    return run


def best_us(fns: tuple[Callable[[], int], ...], frames: int, repeat: int) -> list[float]:
    """Best-of-`repeat` µs per frame of each callable, the callables interleaved per repeat
    (a burst of other load on the shared box then hits both, not just one)."""
    best = [float("inf")] * len(fns)
    gc.collect()
    gc.disable()  # collections would land on whichever run happens to trigger them
    try:
        for _ in range(repeat):
            for i, fn in enumerate(fns):
                began = time.perf_counter()
                fn()
                best[i] = min(best[i], time.perf_counter() - began)
    finally:
        gc.enable()
    return [b / frames * 1e6 for b in best]



def micro(n: int, repeat: int) -> list[dict]:
    """Time every case with both codecs; rows with µs/frame and the ratio."""
    import websockets.speedups  # noqa: F401 - the C apply_mask must be what is measured

    frames, texts = inbound(n), outbound(n)
    cases = {
        "in: 1 frame per recv": (hand_in(frames), proto_in(frames)),
        "in: 10 frames per recv": (hand_in(chunked(frames, 10)), proto_in(chunked(frames, 10))),
        "in: random cuts 1-700 B": (hand_in(random_cuts(frames)),
                                    proto_in(random_cuts(frames))),
        "out: server text frame": (hand_out(texts), proto_out(texts)),
        "echo: 1 in + 1 out": (hand_echo(frames, texts), proto_echo(frames, texts)),
    }
    rows = []
    for name, pair in cases.items():
        if pair[0]() != pair[1]():
            raise AssertionError(f"{name}: the codecs disagree on the output")
        a, b = best_us(pair, n, repeat)
        rows.append({"case": name, "hand_us": a, "proto_us": b, "ratio": b / a})
    return rows


def print_micro(rows: list[dict], n: int, repeat: int) -> None:
    """The micro table (Markdown)."""
    print(f"\nper-frame framing cost, {n} frames, best of {repeat} "
          f"(websockets C speedups loaded)\n")
    print("| case | hand-written µs/frame | ServerProtocol µs/frame | × hand-written |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['hand_us']:.2f} | {r['proto_us']:.2f} | {r['ratio']:.2f} |")


def e2e(args) -> list[dict]:
    """Forkline with FastSocket vs ProtocolSocket at a fixed stream count, A/B interleaved."""
    from bench._report import print_step
    from bench._targets import Forkline
    from bench.media_bench import run_step, settle

    class Pinned(Forkline):
        rss_base = 0

        def __init__(self, workdir: Path, label: str, hook: str) -> None:
            super().__init__(workdir, workers=1, hook=(hook, str(workdir / "hooks")),
                             cpu=str(args.server_cpu))
            self.name = label

    os.sched_setaffinity(0, {args.gen_cpu})  # this process and the generators it starts
    step_args = argparse.Namespace(procs=0, warmup=args.e2e_warmup, duration=args.e2e_duration,
                                   drain=1.0, p99_limit=40.0, nice=args.nice, py_spy=None)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="wscodec-") as tmp:
        targets = []
        for label, hook in (("hand", "gcstat"), ("wsproto", "wsprotocol")):
            workdir = Path(tmp) / label
            workdir.mkdir()
            targets.append(Pinned(workdir, label, hook))
        try:
            for target in targets:
                target.start()
                run_step(target, 1, argparse.Namespace(**{**vars(step_args), "duration": 1.0}))
                swapped = INSTALLED in target.log.read_text(errors="replace")
                if swapped != (target.name == "wsproto"):
                    raise RuntimeError(f"{target.name}: wrong socket shell (see {target.log})")
            for _ in range(args.e2e_rounds):
                for target in targets:
                    settle(target)
                    step = run_step(target, args.e2e_streams, step_args)
                    print_step(step)
                    rows.append(step)
        finally:
            for target in targets:
                target.stop()
    return rows


def print_e2e(rows: list[dict], args) -> None:
    """Median server CPU per stream of each variant, and the ratio."""
    by = {name: [r for r in rows if r["target"] == name] for name in ("hand", "wsproto")}
    cpu = {k: statistics.median(r["cpu_pct_per_stream"] for r in v) for k, v in by.items()}
    p99 = {k: statistics.median(r["p99_ms"] or 0.0 for r in v) for k, v in by.items()}
    print(f"\nend to end: {args.e2e_streams} streams, server on CPU {args.server_cpu}, "
          f"generator on CPU {args.gen_cpu}, {args.e2e_rounds} A/B rounds (medians)\n")
    print("| socket shell | server CPU %/stream | p99 ms | × hand-written CPU |")
    print("|---|---|---|---|")
    for name, label in (("hand", "FastSocket (hand-written)"),
                        ("wsproto", "ProtocolSocket (ServerProtocol)")):
        ratio = cpu[name] / cpu["hand"] if cpu["hand"] else float("nan")
        print(f"| {label} | {cpu[name]:.3f} | {p99[name]:.1f} | {ratio:.2f} |")


def main(argv: list[str] | None = None) -> int:
    """Run the micro comparison, and the end-to-end one when asked."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=2000,
                   help="per timed run: short runs dodge preemption on a shared box")
    p.add_argument("--repeat", type=int, default=100)
    p.add_argument("--e2e-streams", type=int, default=0, help="0 = micro only")
    p.add_argument("--e2e-rounds", type=int, default=2)
    p.add_argument("--e2e-warmup", type=float, default=1.0)
    p.add_argument("--e2e-duration", type=float, default=5.0)
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--gen-cpu", type=int, default=1)
    p.add_argument("--nice", type=int, default=0,
                   help="end to end: renice server and generator (-10 on a shared box)")
    args = p.parse_args(argv)
    print(f"run of {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}, "
          f"load average {os.getloadavg()[0]:.2f}")
    print_micro(micro(args.frames, args.repeat), args.frames, args.repeat)
    if args.e2e_streams:
        print_e2e(e2e(args), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
