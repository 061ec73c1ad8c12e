"""The demo's live timeline: poll Forkline's admin API and print what changed, as it happens."""
from __future__ import annotations

import threading
import time

import requests

# Callbacks worth a timeline line; the rest (ringing, answered, ...) stay in timeline.jsonl.
SHOWN_EVENTS = {
    "conference-start", "conference-end", "participant-join", "participant-leave",
    "participant-mute", "participant-unmute", "participant-modify", "barge-in",
    "stream-started", "stream-stopped", "stream-error", "stream-dropped",
}
STATE_FIELDS = ("status", "mode", "muted", "coaching", "coach")


class Timeline:
    """Prints timestamped lines; a background poller adds what Forkline reports."""

    def __init__(self, api, conference: str | None = None, interval_s: float = 0.15,
                 quiet: bool = False) -> None:
        self.api, self.conference = api, conference
        self.interval_s, self.quiet = interval_s, quiet
        self.t0 = time.monotonic()
        self.entries: list[dict] = []
        self.errors = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._seen_events: set[tuple] = set()
        self._state: dict[str, dict] = {}
        self._transcript_len = 0
        self._thread = threading.Thread(target=self._run, name="timeline", daemon=True)

    def now(self) -> float:
        """Seconds since the demo started."""
        return time.monotonic() - self.t0

    def add(self, kind: str, text: str, **data) -> dict:
        """Record and print one line."""
        entry = {"t": round(self.now(), 3), "kind": kind, "text": text, **data}
        with self._lock:
            self.entries.append(entry)
            if not self.quiet or kind in ("step", "error"):
                print(f"  {entry['t']:7.2f}s  {kind:<11} {text}", flush=True)
        return entry

    def follow(self, conference: str) -> None:
        """Start polling the conference."""
        self.conference = conference
        self._thread.start()

    def stop(self) -> None:
        """Stop polling, after one last poll so the end of the story is printed."""
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(5)
            self.poll()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.poll()

    def poll(self) -> None:
        """One look at the conference detail and the transcript."""
        try:
            detail = self.api.get(f"/api/conferences/{self.conference}")
            self._participants(detail)
            self._events(detail)
            self._transcript(self.api.get(f"/api/conferences/{self.conference}/transcript"))
        except (requests.RequestException, ValueError, KeyError) as exc:
            self.errors += 1
            if self.errors in (1, 10, 100):
                self.add("error", f"poll failed ({self.errors}x): {exc}")

    def label_of(self, call_sid: str | None) -> str:
        """A participant's label from its call SID (the SID itself when unknown)."""
        for label, state in self._state.items():
            if state.get("call_sid") == call_sid:
                return label
        return call_sid or "-"

    def _participants(self, detail: dict) -> None:
        for p in detail["participants"]:
            old = self._state.get(p["label"])
            new = {k: p.get(k) for k in (*STATE_FIELDS, "call_sid", "role")}
            if old == new:
                continue
            self._state[p["label"]] = new
            if old is None:
                mode = f", mode {p['mode']}" if p["mode"] else ""
                text = f"{p['label']} ({p['role']}) {p['status']}{mode}"
            else:
                text = p["label"] + ": " + ", ".join(
                    f"{k} {old[k]}→{new[k]}" for k in STATE_FIELDS if old.get(k) != new.get(k))
            self.add("participant", text, label=p["label"], state=new)

    def _events(self, detail: dict) -> None:
        for e in reversed(detail["events"]):  # the API lists newest first
            key = (e["source"], e["event"], e["sequence_number"], e["call_sid"], e["received_at"])
            if key in self._seen_events:
                continue
            self._seen_events.add(key)
            who = self.label_of(e["call_sid"])
            entry = {"source": e["source"], "event": e["event"], "label": who}
            if e["event"] in SHOWN_EVENTS:
                self.add("event", f"{e['source']:<10} {e['event']:<18} {who}", **entry)
            else:
                with self._lock:
                    self.entries.append({"t": round(self.now(), 3), "kind": "event-quiet",
                                         **entry})

    def _transcript(self, body: dict) -> None:
        entries = body.get("entries", [])
        for e in entries[self._transcript_len:]:
            self.add("speech", f"{e['speaker']}: “{e['text']}”", speaker=e["speaker"],
                     role=e.get("role"), words=e["text"])
        self._transcript_len = max(self._transcript_len, len(entries))
