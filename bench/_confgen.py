"""Load generator for bench/conference_bench.py: K whole conferences (three legs each) per process.

Run as a subprocess, same handshake as bench/_loadgen.py: one JSON spec line on stdin, `READY n`
once connected, `GO <epoch>` on stdin, `DONE` once sent and drained, `BYE` to hang up, then one
JSON result line. With `report_every_s` (the soak) it also prints `TICK <json>` lines with the
frames sent so far while it runs.
"""
from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

import orjson

from bench._confclients import FRAME_S, AiLegClient, Leg, Script
from bench._loadgen import frame_schedule


class ConferenceClient:
    """One conference's legs and its script; all per-conference state lives here."""

    def __init__(self, spec: dict, conf: dict, script: Script, n_frames: int) -> None:
        self.spec, self.conf, self.script = spec, conf, script
        self.index = conf["index"]
        self.offset = (self.index * 97) % script.cycle  # conferences talk at different times
        acct = spec["account_sid"]
        self.customer = self.agent = self.ai = None
        if conf.get("customer"):
            self.customer = Leg(spec["fork_url"], spec["fork_headers"], acct, *conf["customer"])
        if conf.get("agent"):
            self.agent = Leg(spec["fork_url"], spec["fork_headers"], acct, *conf["agent"])
        if conf.get("ai"):
            self.ai = AiLegClient(spec["ai_url"], spec["ai_headers"], acct, *conf["ai"],
                                  n_frames=n_frames, tagged=spec["agent"] == "echo")
        self.legs = [leg for leg in (self.customer, self.agent, self.ai) if leg is not None]
        self.n_frames = n_frames
        self.onsets: list[tuple[float, int, float]] = []  # (sent, frame, utterance end sent)
        self.q_ends: list[tuple[float, int]] = []
        self.late = 0

    async def open(self, limit: asyncio.Semaphore) -> None:
        """Connect every leg."""
        await asyncio.gather(*(leg.open(limit) for leg in self.legs))

    async def run(self, t0: float, drain_s: float) -> None:
        """Send every leg's frame on the shared 20 ms schedule."""
        if any(leg.ws is None for leg in self.legs):
            return
        script = self.script
        try:
            async for k, due, now in frame_schedule(t0, self.n_frames):
                self.late += now - due > FRAME_S
                await self._tick(k, script.phase(k + self.offset), now, int(k * 20))
            await asyncio.sleep(drain_s)
        except Exception as exc:  # noqa: BLE001 - a dropped socket is a result
            self.legs[0].error = self.legs[0].error or f"send: {type(exc).__name__}: {exc}"[:300]

    async def _tick(self, k: int, phase: tuple[str, int], now: float, ts: int) -> None:
        script, (part, i) = self.script, phase
        silence = script.silence64
        if i == 0 and part:
            length = len(script.q if part == "q" else script.b)
            self.onsets.append((now, k, now + (length - 1) * FRAME_S))
        if part == "q" and i == len(script.q) - 1:
            self.q_ends.append((now, k))
        if self.customer is not None:
            await self.customer.send_media(script.q64[i] if part == "q" else silence, ts)
        if self.agent is not None:
            await self.agent.send_media(script.b64[i] if part == "b" else silence, ts)
        if self.ai is not None:
            audio = (script.q[i] if part == "q" else script.b[i] if part == "b"
                     else b"\xff" * 160)
            self.ai.sent_at[k] = now
            await self.ai.send_media(self.ai.frame(k, audio), ts)

    def sent(self) -> int:
        """Frames sent so far over every leg."""
        return sum(leg.sent for leg in self.legs)

    def result(self, warm: int) -> dict:
        """Round trips, first audio, barge-in reactions (ms) and counters of this conference."""
        out: dict = {"sent": self.sent(), "late": self.late, "rtt": [], "first_audio": [],
                     "barge": [], "silent": [], "no_answer": 0, "no_clear": 0, "lost_echo": 0,
                     "clears": 0, "errors": [leg.error for leg in self.legs if leg.error]}
        ai = self.ai
        if ai is None:
            return out
        out["clears"] = len(ai.clears)
        if ai.tagged:
            out["rtt"] = [round((b - s) * 1000, 2) for s, b in
                          zip(ai.sent_at[warm:], ai.back_at[warm:], strict=True) if s and b]
            lost_ids = [k for k, (s, b) in enumerate(zip(ai.sent_at, ai.back_at, strict=True))
                        if s and not b]
            out["lost_echo"] = len(lost_ids)
            out["lost_ids"] = lost_ids[:10]
        self._first_audio(out, warm)
        self._barge_ins(out, warm)
        return out

    def _first_audio(self, out: dict, warm: int) -> None:
        ai = self.ai
        if ai.tagged:  # echo: the onset frame of each question, heard back
            out["first_audio"] = [round((ai.back_at[k] - ai.sent_at[k]) * 1000, 2)
                                  for _, k, _ in self.onsets
                                  if k >= warm and ai.back_at[k] and k < len(ai.back_at)]
            return
        for end, k in self.q_ends:  # local: end of the question -> first audible answer
            if k < warm:
                continue
            window = end + (self.script.b_start - len(self.script.q)) * FRAME_S
            heard = next((t for t in ai.audible_at if end < t <= window), None)
            if heard is None:
                out["no_answer"] += 1
            else:
                out["first_audio"].append(round((heard - end) * 1000, 2))

    def _barge_ins(self, out: dict, warm: int) -> None:
        ai = self.ai
        for onset, k, utter_end in self.onsets:
            if k < warm:
                continue
            clear = next((c for c in ai.clears if onset <= c <= onset + 1.0), None)
            if clear is None:
                out["no_clear"] += 1
                continue
            out["barge"].append(round((clear - onset) * 1000, 2))
            if ai.tagged:  # audio of frames heard before the onset, still arriving after it
                late = [t for t, fid in ai.old_after_clear if clear < t <= clear + 1.0 and fid < k]
            else:  # an answer cannot restart before the talker stops (endpointing)
                late = [t for t in ai.audible_at if clear < t <= utter_end + 0.3]
            out["silent"].append(round((max(late) - clear) * 1000, 2) if late else 0.0)


async def run_load(spec: dict, wait_for_go, wait_for_end, tick=None) -> list[dict]:
    """Open every conference, await GO, run, await the end, hang up; per-conference results."""
    n_frames = round((spec["warmup_s"] + spec["duration_s"]) / FRAME_S)
    warm = round(spec["warmup_s"] / FRAME_S)
    script = Script(Path(spec["q_path"]).read_bytes(), Path(spec["b_path"]).read_bytes(),
                    spec.get("cycle_frames", 400))
    confs = [ConferenceClient(spec, c, script, n_frames) for c in spec["conferences"]]
    limit = asyncio.Semaphore(spec.get("connect_concurrency", 16))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(c.open(limit) for c in confs)),
                               spec.get("connect_timeout_s", 90))
    connected = sum(1 for c in confs for leg in c.legs if leg.ws is not None)
    start_epoch = await wait_for_go(connected)
    loop = asyncio.get_running_loop()
    t0 = loop.time() + (start_epoch - time.time())
    total = spec["total_conferences"]
    reporter = None
    if tick is not None and spec.get("report_every_s"):
        reporter = asyncio.create_task(_report(confs, spec["report_every_s"], tick))
    await asyncio.gather(*(c.run(t0 + FRAME_S * c.index / total, spec["drain_s"])
                           for c in confs))
    if reporter is not None:
        reporter.cancel()
    results = [c.result(warm) for c in confs]
    await wait_for_end()
    await asyncio.gather(*(leg.hang_up() for c in confs for leg in c.legs))
    return results


async def _report(confs: list[ConferenceClient], every_s: float, tick) -> None:
    """Every `every_s`: frames sent so far, and echo frames still missing 1 s after sending."""
    cursors = {id(c): 0 for c in confs}
    lost = 0
    while True:
        await asyncio.sleep(every_s)
        horizon = asyncio.get_running_loop().time() - 1.0
        for c in confs:
            ai = c.ai
            if ai is None or not ai.tagged:
                continue
            k = cursors[id(c)]
            while k < len(ai.sent_at) and ai.sent_at[k] and ai.sent_at[k] < horizon:
                lost += not ai.back_at[k]
                k += 1
            cursors[id(c)] = k
        tick({"sent": sum(c.sent() for c in confs), "lost_echo": lost})


async def _stdio_main() -> None:
    loop = asyncio.get_running_loop()
    spec = orjson.loads(await loop.run_in_executor(None, sys.stdin.readline))

    async def wait_for_go(connected: int) -> float:
        print(f"READY {connected}", flush=True)
        return float((await loop.run_in_executor(None, sys.stdin.readline)).split()[1])

    async def wait_for_end() -> None:
        print("DONE", flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)

    def tick(fields: dict) -> None:
        print("TICK " + orjson.dumps(fields).decode(), flush=True)

    results = await run_load(spec, wait_for_go, wait_for_end, tick)
    sys.stdout.write(orjson.dumps({"conferences": results}).decode() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(_stdio_main())
