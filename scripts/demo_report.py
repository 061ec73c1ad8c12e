"""After the call: collect recordings and the transcript, measure, and write demo_output/."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from demo_audio import (
    Segment,
    cut,
    first_audio_ms,
    frame_levels,
    loudest_dbfs,
    segments,
    transcribe,
    wav_pcm,
)
from demo_scenario import PHONES, Mark, Story

SILENT_DBFS = -50.0  # "not heard": the whisper's level in the customer's ear must stay below


def answers_corpus() -> str:
    """What the local agent can say: the recognizer is biased to these sentences."""
    from agents.local import DEFAULT_FAQ
    from agents.pipeline.offline import COMMON_PHRASES

    hello = "Hello! How can I help you?"  # the rule responder's answer to a greeting
    return "\n".join([a for _, a in DEFAULT_FAQ] + [hello, COMMON_PHRASES])


class Report:
    """Files written, measurements and the one-screen summary."""

    def __init__(self, out: Path, story: Story) -> None:
        self.out, self.story = out, story
        self.files: list[str] = []
        self.pcm: dict[str, bytes] = {}
        self.levels: dict[str, list[float]] = {}
        self.summary: dict = {"conference": story.conference}

    def write(self, name: str, data: bytes | str) -> Path:
        """Write one output file and remember it."""
        path = self.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            path.write_text(data)
        else:
            path.write_bytes(data)
        self.files.append(str(path))
        return path

    def collect_phones(self, sim) -> None:
        """Each simulated phone's recording (what that person heard)."""
        for label, number in PHONES.items():
            data = sim.recording_wav(number)
            self.write(f"recordings/phone-{label}.wav", data)
            self.pcm[label] = wav_pcm(data)
            self.levels[label] = frame_levels(self.pcm[label])

    def collect_forkline(self, recordings_dir: Path) -> None:
        """Forkline's own leg/mix recordings (the tenant opted in)."""
        # The folder is named after the conference (lately prefixed by its tenant: t1-<name>);
        # the recordings directory is the demo's own, so matching the name is unambiguous.
        name = self.story.conference
        folders = [d for d in recordings_dir.glob(f"*{name}") if d.name.endswith(name)]
        for path in sorted(p for d in folders for p in d.glob("*.wav")):
            target = self.out / "recordings" / "forkline" / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            self.files.append(str(target))

    def collect_transcript(self, api) -> dict:
        """The speaker-labelled transcript, as JSON and as text."""
        body = api.get(f"/api/conferences/{self.story.conference}/transcript")
        self.write("transcript.json", json.dumps(body, indent=2) + "\n")
        lines = [f"[{e['started_at']}] {e['speaker']} ({e['role']}): {e['text']}"
                 for e in body.get("entries", [])]
        if body.get("summary"):
            lines.append(f"\nsummary ({body['summary']['method']}): {body['summary']['text']}")
        self.write("transcript.txt", "\n".join(lines) + "\n")
        self.summary["transcript_entries"] = len(body.get("entries", []))
        self.summary["ai_said"] = [e["text"] for e in body.get("entries", [])
                                   if e.get("role") == "ai"]
        return body

    def heard(self, label: str, start: int, end: int | None = None) -> Segment | None:
        """Everything `label` heard in frames [start, end), as one span (None if silence)."""
        found = [s for s in segments(self.levels[label], start) if end is None or s.start < end]
        if not found:
            return None
        return Segment(found[0].start, min(found[-1].end, end or found[-1].end))

    def next_mark_at(self, mark: Mark, label: str) -> int | None:
        """Where the mark after `mark` started, in `label`'s recording."""
        later = self.story.marks[self.story.marks.index(mark) + 1:]
        return later[0].at[label] if later else None

    def measure_turns(self) -> None:
        """Per question: what the customer heard back (offline STT) and first-audio latency."""
        turns, corpus = [], answers_corpus()
        for mark in (m for m in self.story.marks if m.kind == "question"):
            reply = self.heard("customer", mark.at["customer"], self.next_mark_at(mark, "customer"))
            later = self.story.marks[self.story.marks.index(mark) + 1:]
            turn = {"question": mark.text, "t": round(mark.t, 2),
                    "interrupted": bool(later) and later[0].kind == "interruption"}
            # The agent hears both the question and the reply, on one tick-exact timeline.
            turn["first_audio_ms"] = first_audio_ms(self.levels["agent"], mark.at["agent"])
            if reply:
                turn["reply_s"] = round(reply.end_s - reply.start_s, 2)
                turn["customer_heard"] = transcribe(cut(self.pcm["customer"], reply), corpus)
            turns.append(turn)
        self.summary["turns"] = turns

    def measure_supervisor(self) -> None:
        """Who heard the supervisor in each mode (listen: nobody; whisper: the agent only)."""
        phases = {}
        for mark in (m for m in self.story.marks if m.kind in ("listen", "whisper")):
            span = round(mark.seconds * 50)
            phases[mark.kind] = {
                label: round(loudest_dbfs(self.levels[label], mark.at[label],
                                          mark.at[label] + span), 1)
                for label in ("customer", "agent")}
        sup = self.story.supervisor_states
        self.summary["supervisor"] = {"label": self.story.supervisor_label,
                                      "states": sup, "heard_dbfs": phases}

    def measure_ai_whisper(self) -> None:
        """Who heard the AI's answer while it whispered to the agent."""
        mark = next((m for m in self.story.marks if m.kind == "ai-whisper"), None)
        if mark is None:
            return
        skip = round(mark.seconds * 50) + 5  # the agent also hears the question itself
        heard = {label: round(loudest_dbfs(self.levels[label], mark.at[label] + skip,
                                           len(self.levels[label])), 1)
                 for label in ("customer", "agent")}
        self.summary["ai_whisper"] = {"state": self.story.ai_whisper_state, "heard_dbfs": heard}

    def measure_barge_in(self) -> None:
        """How fast the AI's voice stopped at the customer once she talked over it."""
        mark = self.story.barge_in
        if mark is None:
            return
        question = self.story.marks[self.story.marks.index(mark) - 1]
        heard = segments(self.levels["customer"], question.at["customer"])
        cut_off = next((s for s in heard if s.start < mark.at["customer"] <= s.end + 5), None)
        after = self.heard("customer", mark.at["customer"] + round(mark.seconds * 50),
                           self.next_mark_at(mark, "customer"))
        result: dict = {"interruption": mark.text}
        if cut_off is not None:
            result["ai_heard_before_cut_s"] = round(cut_off.end_s - cut_off.start_s, 2)
            result["ai_stopped_after_ms"] = (cut_off.end - mark.at["customer"]) * 20
        if after:
            result["reply_s"] = round(after.end_s - after.start_s, 2)
            result["customer_heard"] = transcribe(cut(self.pcm["customer"], after),
                                                  answers_corpus())
        self.summary["barge_in"] = result

    def finish(self, timeline_entries: list[dict], extra: dict) -> Path:
        """timeline.jsonl and summary.json."""
        self.write("timeline.jsonl", "".join(json.dumps(e) + "\n" for e in timeline_entries))
        self.summary["marks"] = [vars(m) for m in self.story.marks]
        self.summary.update(extra, files=self.files + [str(self.out / "summary.json")])
        return self.write("summary.json", json.dumps(self.summary, indent=2) + "\n")
