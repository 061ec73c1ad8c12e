"""Socket side of a human leg's fork: taps, recordings, and speaker-attributed barge-in."""
from __future__ import annotations

import contextlib

from conference.logs import monotonic_ms
from conference.media import metrics, statesink
from conference.media.ai_leg import recording_folder
from conference.media.codec import Media, Start
from conference.media.registry import MediaPlane, conf_key
from conference.media.vad import SpeechDetector, SpeechEdge


class ForkLeg:
    """One `/twilio/fork` socket (unidirectional): keyed by its label, else by its callSid."""

    def __init__(self, ws, plane: MediaPlane, start: Start, info: dict) -> None:
        self.ws, self.plane, self.start = ws, plane, start
        self.label = info.get("label") or start.call_sid
        self.info = dict(info, kind="fork", call_sid=start.call_sid,
                         stream_sid=start.stream_sid, label=self.label,
                         track="inbound_track" if start.tracks == ("inbound",) else "both_tracks")
        self.conf_key = conf_key(info.get("tenant"), info.get("conference"))
        self.key = (start.call_sid, "fork:" + ",".join(start.tracks))
        self.detector = SpeechDetector(self.label)
        self.fenced = False
        self.frames_in = 0
        self.speech_edges = 0  # numbers this fork's speech events (their dedup keys)

    def attach(self, now_ms: float) -> None:
        """Claim the call's fork, fence an older duplicate, register with the conference."""
        older = self.plane.table.claim(self.key, self)
        if older is not None:
            metrics.DUPLICATES.inc()
            older.fence()
        if self.plane.bus is not None:
            self.plane.bus.publish("claim", call_sid=self.start.call_sid, leg=self.key[1])
        self.plane.add_fork(self.conf_key, self.label, self)
        self.plane.sink.submit(statesink.stream_started, self.info, self._on_recording)
        metrics.STREAMS.labels(kind="fork").inc()

    def _on_recording(self, enabled: bool) -> None:
        if enabled:
            self.plane.recordings.start(self.start.call_sid, recording_folder(self.info),
                                        self.label, self.start.stream_sid)

    def on_media(self, msg: Media) -> None:
        """Hot path: taps and VAD on the inbound track."""
        if msg.track != "inbound":
            return
        data = msg.payload
        self.frames_in += 1
        if self.frames_in >= 250:  # counters in batches: no metric locks per frame
            metrics.FRAMES_IN.labels(kind="fork").inc(self.frames_in)
            self.frames_in = 0
        self.plane.taps.publish(self.start.call_sid, data)
        edge = self.detector.feed(data, monotonic_ms())
        if edge is not None:
            self.on_speech(edge)

    def on_speech(self, edge: SpeechEdge) -> None:
        """A speaker started or stopped: maybe a barge-in against the AI of this conference."""
        self.speech_edges += 1
        barged = False
        if edge.started:
            for live in self.plane.ai_calls_in(self.conf_key):
                barged = live.barge_in("vad", edge.at_ms, edge.speaker) or barged
            if self.plane.bus is not None:  # the AI leg may live in another worker
                self.plane.bus.publish("speech", conf_key=self.conf_key, speaker=edge.speaker)
        event = "speech-started" if edge.started else "speech-stopped"
        key = f"media:{self.start.stream_sid}:{event}:{self.speech_edges}"
        self.plane.sink.submit(statesink.media_event, self.info, event, key,
                               {"speaker": edge.speaker, "barge_in": barged})

    def on_mark(self, name: str, now_ms: float) -> None:
        """Forks are unidirectional: marks never come back."""

    def on_dtmf(self, digit: str) -> None:
        """Twilio sends DTMF on bidirectional streams only; ignore it here."""

    def fence(self) -> None:
        """A newer fork of the same call took over."""
        self.fenced = True
        with contextlib.suppress(Exception):
            self.ws.close(reason=1000, message="superseded")

    def close(self, stopped: bool, now_ms: float | None = None) -> None:
        """The read loop ended: unregister and record the end of the stream."""
        metrics.STREAMS.labels(kind="fork").dec()
        metrics.FRAMES_IN.labels(kind="fork").inc(self.frames_in)
        self.frames_in = 0
        self.plane.table.release(self.key, self)  # no-ops when a newer socket took over
        self.plane.remove_fork(self.conf_key, self.label, self)
        if self.fenced:
            self.plane.sink.submit(statesink.stream_ended, self.start.stream_sid, "stopped")
            return
        self.plane.recordings.stop(self.start.call_sid, self.start.stream_sid)
        self.plane.sink.submit(statesink.stream_ended, self.start.stream_sid,
                               "stopped" if stopped else "failed")

