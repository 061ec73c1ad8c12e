"""`make demo` end to end: simulator + Forkline (gunicorn, gevent) + the offline local agent.

The demo runs as a subprocess, exactly as `make demo` runs it. The assertions are recomputed
here from its raw outputs (the phones' WAV recordings, the transcript, the timeline), not taken
from the demo's own summary numbers.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from agents import speech
from agents.local import DEFAULT_FAQ
from agents.pipeline.offline import COMMON_PHRASES, SphinxSTT
from twilio_sim.audio import rms_dbfs

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scripts" / "demo.py"
FRAME_BYTES = 320  # 20 ms of 8 kHz PCM16

pytestmark = [
    pytest.mark.skipif(not speech.available(), reason="espeak-ng not installed"),
    pytest.mark.timeout(420),
    pytest.mark.slow,
]


def run_demo(out: Path, *extra: str) -> subprocess.CompletedProcess:
    """Run the demo to completion; on a hang, interrupt it so it still cleans up."""
    proc = subprocess.Popen([sys.executable, str(DEMO), "--quiet", "--output", str(out), *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        stdout, _ = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, "")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One demo run shared by the assertions below: (summary, output dir, stdout)."""
    out = tmp_path_factory.mktemp("demo_output")
    result = run_demo(out)
    assert result.returncode == 0, result.stdout[-6000:]
    return json.loads((out / "summary.json").read_text()), out, result.stdout


def pcm_of(path: Path) -> bytes:
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (8000, 2, 1)
        return wav.readframes(wav.getnframes())


def window(pcm: bytes, start: int, end: int | None = None) -> bytes:
    """Frames [start, end) of a recording (20 ms frames)."""
    return pcm[start * FRAME_BYTES:None if end is None else end * FRAME_BYTES]


def loudest(pcm: bytes) -> float:
    """The loudest 20 ms frame, in dBFS."""
    frames = [pcm[i:i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
    return max((rms_dbfs(f) for f in frames if len(f) == FRAME_BYTES), default=-120.0)


def marks(summary: dict, kind: str) -> list[dict]:
    return [m for m in summary["marks"] if m["kind"] == kind]


def next_at(summary: dict, mark: dict, label: str) -> int | None:
    later = summary["marks"][summary["marks"].index(mark) + 1:]
    return later[0]["at"][label] if later else None


def test_conference_created_and_everyone_joined(demo):
    summary, out, _ = demo
    people = {p["label"]: p for p in summary["participants"]}
    assert {"customer", "agent", "ai", summary["supervisor"]["label"]} <= set(people)
    assert people["ai"]["role"] == "ai"
    for p in people.values():
        assert p["joined_at"] is not None, p  # everyone really joined (per Twilio's callbacks)
        assert p["status"] == "left"  # and left when the conference ended
    timeline = [json.loads(line) for line in (out / "timeline.jsonl").read_text().splitlines()]
    ai_states = [e["state"] for e in timeline if e["kind"] == "participant" and e["label"] == "ai"]
    assert ai_states[0]["mode"] == "speak"  # the AI joined in speak mode
    joins = {e["label"] for e in timeline if e.get("event") == "participant-join"}
    assert {"customer", "agent", "ai"} <= joins
    assert any(e.get("event") == "conference-end" for e in timeline)


def test_customer_recording_contains_the_ai_spoken_answers(demo):
    summary, out, _ = demo
    pcm = pcm_of(out / "recordings" / "phone-customer.wav")
    stt = SphinxSTT("\n".join([a for _, a in DEFAULT_FAQ] + [COMMON_PHRASES]))
    expected = {"What are your opening hours?": {"open", "monday", "friday"},
                "Where are you located?": {"located", "street", "springfield"}}
    asked = {m["text"]: m for m in marks(summary, "question")}
    assert set(expected) <= set(asked)
    for question, keywords in expected.items():
        mark = asked[question]
        heard = window(pcm, mark["at"]["customer"], next_at(summary, mark, "customer"))
        text = next(iter(stt.transcribe(heard)))[0]
        assert keywords <= set(text.split()), (question, text)


def test_barge_in_cut_the_ai_short(demo):
    summary, out, _ = demo
    timeline = [json.loads(line) for line in (out / "timeline.jsonl").read_text().splitlines()]
    assert any(e.get("event") == "barge-in" for e in timeline)
    interruption = marks(summary, "interruption")[0]
    question = summary["marks"][summary["marks"].index(interruption) - 1]
    pcm = pcm_of(out / "recordings" / "phone-customer.wav")
    at = interruption["at"]["customer"]
    before = window(pcm, question["at"]["customer"], at)
    assert loudest(before) > -30, "the AI had started answering when she spoke"
    # Uncut, the ~2.5 s answer would still be playing from 0.5 s after she started talking
    # until 0.4 s after she stopped; her own reply cannot start that soon (endpointing).
    hello_frames = round(interruption["seconds"] * 50)
    assert len(speech.synthesize_ulaw(DEFAULT_FAQ[2][1])) / 8000 > 2.0
    assert loudest(window(pcm, at + 25, at + hello_frames + 20)) < -50
    after = window(pcm, at + hello_frames + 20, next_at(summary, interruption, "customer"))
    assert loudest(after) > -30  # then the AI answered her


def test_supervisor_listen_then_whisper(demo):
    summary, out, _ = demo
    listen, whisper = summary["supervisor"]["states"]
    assert (listen["mode"], listen["muted"], listen["coaching"]) == ("listen", True, False)
    assert (whisper["mode"], whisper["muted"], whisper["coaching"]) == ("whisper", False, True)
    assert whisper["coach"] == "agent"
    heard = {label: pcm_of(out / "recordings" / f"phone-{label}.wav")
             for label in ("customer", "agent")}
    for kind, agent_hears in (("listen", False), ("whisper", True)):
        mark = marks(summary, kind)[0]
        span = round(mark["seconds"] * 50)
        levels = {label: loudest(window(pcm, mark["at"][label], mark["at"][label] + span))
                  for label, pcm in heard.items()}
        assert levels["customer"] < -50, (kind, levels)  # the customer never hears him
        assert (levels["agent"] > -30) is agent_hears, (kind, levels)


def test_ai_whisper_reaches_the_agent_only(demo):
    summary, out, _ = demo
    state = summary["ai_whisper"]["state"]
    assert (state["mode"], state["coaching"], state["coach"]) == ("whisper", True, "agent")
    mark = marks(summary, "ai-whisper")[0]
    skip = round(mark["seconds"] * 50) + 5  # the agent hears the customer's question too
    heard = {label: loudest(window(pcm_of(out / "recordings" / f"phone-{label}.wav"),
                                   mark["at"][label] + skip))
             for label in ("customer", "agent")}
    assert heard["agent"] > -30 and heard["customer"] < -50, heard


def test_transcript_is_written_and_speaker_labelled(demo):
    summary, out, _ = demo
    body = json.loads((out / "transcript.json").read_text())
    speakers = [e["speaker"] for e in body["entries"]]
    assert "customer" in speakers and "ai" in speakers
    ai_lines = " ".join(e["text"] for e in body["entries"] if e["speaker"] == "ai").lower()
    assert "monday" in ai_lines and "springfield" in ai_lines
    text = (out / "transcript.txt").read_text()
    assert re.search(r"^\[[^\]]+\] customer \(customer\): ", text, re.M)
    assert re.search(r"^\[[^\]]+\] ai \(ai\): .*Monday", text, re.M)
    for name in ("phone-customer.wav", "phone-agent.wav", "phone-supervisor.wav"):
        assert (out / "recordings" / name).stat().st_size > 44


def test_forkline_recorded_the_legs_and_the_ai(demo):
    _, out, _ = demo
    rec = out / "recordings" / "forkline"  # the demo tenant opted in to recording
    legs = {name: pcm_of(rec / f"{name}.wav") for name in ("customer", "agent", "ai", "mix")}
    assert loudest(legs["customer"]) > -30 and loudest(legs["mix"]) > -30
    assert loudest(legs["agent"]) < -50  # the agent never spoke
    stt = SphinxSTT("\n".join([a for _, a in DEFAULT_FAQ] + [COMMON_PHRASES]))
    said = set(next(iter(stt.transcribe(legs["ai"])))[0].split())
    assert {"monday", "friday", "springfield"} <= said, said


def test_demo_leaves_no_processes_behind(demo):
    summary, _, stdout = demo
    assert "first-audio latency" in stdout
    for pid in summary["pids"].values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # the simulator and the server are gone
    # ... and so are gunicorn's workers (their command line names the demo's work directory).
    assert not [p for p in Path("/proc").glob("[0-9]*/cmdline")
                if summary["workdir"].encode() in _read(p)]
    assert not Path(summary["workdir"]).exists()  # the throwaway database went with them


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # the process ended while we looked
        return b""


def test_ctrl_c_shuts_everything_down(tmp_path):
    proc = subprocess.Popen([sys.executable, str(DEMO), "--output", str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pids = []
    try:
        for line in proc.stdout:  # wait for both children to be up, then press Ctrl-C
            pids += [int(p) for p in re.findall(r"\(pid (\d+)\)", line)]
            if "Forkline at" in line:
                break
        assert len(pids) == 2, pids
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, rest
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
