"""First-audio latency per AI backend against local fakes: caller speech end -> first AI audio.

    python bench/agent_latency.py [--backends realtime,pipeline,local] [--turns 20] [--gevent]

Each turn feeds an utterance in real-time 20 ms frames (then silence, as a phone line does) and
times the first AudioOut after the last loud frame. For `realtime` the Realtime fake also reports
its own response time (last loud frame received -> first delta sent), so the proxy overhead of
our session (SDK, queues, threads, both socket hops) is the difference, per turn; target < 30 ms.
`pipeline` runs the OpenAI stages against the fake OpenAI HTTP API; `local` is fully offline.
"""
from __future__ import annotations

import sys

if "--gevent" in sys.argv:  # measure as gunicorn's gevent worker runs it
    from gevent import monkey

    monkey.patch_all()

import argparse  # noqa: E402
import audioop  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.base import AgentProfile, AudioOut, ResponseDone  # noqa: E402
from agents.registry import create_session  # noqa: E402

FRAME = 160
SILENCE = b"\xff" * FRAME


class TurnClock:
    """Collects, per turn, when the first AI audio and the response end arrived."""

    def __init__(self, session) -> None:
        self.session = session
        self.first_audio: float | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        self.first_audio = None
        self.done.clear()

    def _read(self) -> None:
        while True:
            event = self.session.next_event(timeout=30)
            if event is None:
                return
            if isinstance(event, AudioOut) and self.first_audio is None:
                self.first_audio = time.perf_counter()
            elif isinstance(event, ResponseDone) and self.first_audio is not None:
                self.done.set()


def last_loud_frame(ulaw: bytes) -> int:
    """Index of the utterance's last frame above a speech-level RMS."""
    frames = [ulaw[i:i + FRAME] for i in range(0, len(ulaw) - FRAME + 1, FRAME)]
    loud = [i for i, f in enumerate(frames) if audioop.rms(audioop.ulaw2lin(f, 2), 2) > 300]
    return loud[-1] if loud else len(frames) - 1


def run_turn(session, clock: TurnClock, utterance: bytes, timeout: float = 20.0) -> float | None:
    """Speak `utterance` in real time, keep the line open with silence; ms to first AI audio."""
    clock.reset()
    end_index = last_loud_frame(utterance)
    frames = [utterance[i:i + FRAME] for i in range(0, len(utterance) - FRAME + 1, FRAME)]
    start, speech_end, n = time.perf_counter(), None, 0
    while clock.first_audio is None and time.perf_counter() - start < timeout:
        frame = frames[n] if n < len(frames) else SILENCE
        session.send_audio(frame)
        if n == end_index:
            speech_end = time.perf_counter()
        n += 1
        time.sleep(max(0.0, start + n * 0.02 - time.perf_counter()))
    if clock.first_audio is None or speech_end is None:
        return None
    latency = (clock.first_audio - speech_end) * 1000
    clock.done.wait(timeout)
    for _ in range(25):  # half a second of line noise between turns
        session.send_audio(SILENCE)
        time.sleep(0.02)
    return latency


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class FakeProcess:
    """The Realtime fake in its own (unpatched) process, so it never shares our gevent hub."""

    def __enter__(self) -> FakeProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-W", "ignore", "-m", "tests.fakes.realtime_server"],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.http_base_url = self.proc.stdout.readline().strip()
        return self

    @property
    def turns(self) -> list[dict]:
        self.proc.stdin.write("turns\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def __exit__(self, *exc) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)
        self.proc.stdout.close()


def bench_realtime(turns: int) -> dict:
    from tests.fakes.realtime_server import tone_ulaw

    with FakeProcess() as fake:
        settings = {"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": fake.http_base_url}
        session = create_session("realtime", AgentProfile(), settings)
        session.connect()
        clock = TurnClock(session)
        latencies = [run_turn(session, clock, tone_ulaw(400)) for _ in range(turns)]
        session.close()
        own = [t["response_s"] * 1000 for t in fake.turns]
    pairs = [(lat, o) for lat, o in zip(latencies, own, strict=False) if lat is not None]
    return {"latency": [lat for lat, _ in pairs], "fake_own": [o for _, o in pairs],
            "overhead": [lat - o for lat, o in pairs]}


def bench_pipeline(turns: int, backend: str) -> dict:
    from agents import speech

    utterance = speech.synthesize_ulaw("What are your opening hours?")
    fake, settings = None, {}
    if backend == "pipeline":
        from tests.fakes.openai_http import FakeOpenAI

        fake = FakeOpenAI().start()
        fake.speech_pcm = b"\x00\x10" * 4800
        settings = {"OPENAI_API_KEY": "sk-fake", "OPENAI_BASE_URL": fake.url}
    profile = AgentProfile(faq=(("opening hours", "We are open nine to five."),))
    session = create_session(backend, profile, settings)
    try:
        session.connect()
        clock = TurnClock(session)
        latencies = [lat for lat in (run_turn(session, clock, utterance) for _ in range(turns))
                     if lat is not None]
        session.close()
    finally:
        if fake is not None:
            fake.stop()
    return {"latency": latencies}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="realtime,pipeline,local")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--gevent", action="store_true", help="monkey-patch first")
    args = parser.parse_args(argv)
    print(f"first-audio latency, {args.turns} turns per backend"
          f"{' (gevent)' if args.gevent else ''}")
    print(f"{'backend':<10}{'measure':<34}{'n':>4}{'p50 ms':>10}{'p95 ms':>10}")
    for backend in args.backends.split(","):
        try:
            result = (bench_realtime(args.turns) if backend == "realtime"
                      else bench_pipeline(args.turns, backend))
        except Exception as exc:  # a missing backend should not hide the others' numbers
            print(f"{backend:<10}unavailable: {type(exc).__name__}: {exc}")
            continue
        labels = {"latency": "speech end -> first AI audio",
                  "fake_own": "fake's own response time",
                  "overhead": "proxy overhead (target < 30 ms)"}
        for key, values in result.items():
            if values:
                print(f"{backend:<10}{labels[key]:<34}{len(values):>4}"
                      f"{pct(values, 0.5):>10.1f}{pct(values, 0.95):>10.1f}")
            else:
                print(f"{backend:<10}{labels[key]:<34}{0:>4}{'-':>10}{'-':>10}")
        if backend == "realtime" and result["overhead"]:
            print(f"{'':<10}mean overhead {statistics.fmean(result['overhead']):.1f} ms")


if __name__ == "__main__":
    main()
