"""Sans-I/O model of Twilio's playout buffer on a bidirectional (`<Connect><Stream>`) stream.

Rules (reference §1.3):
- media from the app is queued and played in arrival order, 160 bytes per 20 ms tick;
  a tick with less than a frame queued plays what there is, padded with silence (an underrun);
- a mark completes once all audio queued before it has been played: Twilio echoes it "when
  that media message's playback is complete" (websocket-messages#mark-message), so
  `next_frame()` reports it one tick after handing out the frame carrying its last byte, i.e.
  once that frame has finished playing;
- a mark that arrives while nothing is queued or playing completes at once: `push_mark`
  returns it (one arriving while the last frame still plays waits for that frame);
- `start_delay_frames` (default 0) models the playout start delay: after the buffer ran dry,
  new audio starts playing that many ticks late (silence meanwhile);
- `clear()` drops all queued audio and completes every pending mark, in order;
- more than 10 minutes of queued audio is refused (Twilio error 31931, "Media Discarded").
"""
from __future__ import annotations

from collections import deque

from twilio_sim.audio import FRAME_BYTES, SAMPLE_RATE, SILENCE

MAX_BUFFERED_BYTES = 10 * 60 * SAMPLE_RATE  # 10 minutes of μ-law


class PlayoutBuffer:
    """What Twilio has received from the app and not yet played into the call."""

    def __init__(self, max_bytes: int = MAX_BUFFERED_BYTES, start_delay_frames: int = 0) -> None:
        self.max_bytes = max_bytes
        self.start_delay_frames = start_delay_frames
        self._warmup = 0  # silent ticks left before queued audio starts playing
        self._playing = False  # a frame of audio was handed out last tick and is still playing
        self._finishing: list[str] = []  # marks done once the playing frame has played
        self._audio = bytearray()
        self._queued = 0  # bytes ever queued (not counting cleared or discarded ones)
        self._played = 0  # bytes ever played or cleared
        self.heard_bytes = 0  # app audio actually played into the call (not cleared, no padding)
        self._marks: deque[tuple[int, str]] = deque()  # (queued offset the mark waits for, name)
        self.discarded_bytes = 0
        self.underruns = 0  # ticks that played a partial frame

    @property
    def buffered_bytes(self) -> int:
        """μ-law bytes waiting to be played."""
        return len(self._audio)

    @property
    def buffered_ms(self) -> int:
        """Milliseconds of audio waiting to be played."""
        return len(self._audio) * 1000 // SAMPLE_RATE

    @property
    def pending_marks(self) -> list[str]:
        """Names of marks not yet completed, in order."""
        return self._finishing + [name for _, name in self._marks]

    def push_media(self, ulaw: bytes) -> bool:
        """Queue app audio; False (and nothing queued) if it would exceed the 10-minute cap."""
        if len(self._audio) + len(ulaw) > self.max_bytes:
            self.discarded_bytes += len(ulaw)
            return False
        if not self._audio and not self._playing and ulaw:
            self._warmup = self.start_delay_frames
        self._audio += ulaw
        self._queued += len(ulaw)
        return True

    def push_mark(self, name: str) -> list[str]:
        """Queue a mark; returns `[name]` if it completes at once (nothing buffered), else []."""
        if not self._audio:
            if self._playing:
                self._finishing.append(name)
                return []
            return [name]
        self._marks.append((self._queued, name))
        return []

    def clear(self) -> list[str]:
        """Drop all queued audio; returns every pending mark (all complete now), in order."""
        self._played += len(self._audio)
        self._audio.clear()
        done = self._finishing + [name for _, name in self._marks]
        self._marks.clear()
        self._finishing = []
        self._playing = False
        return done

    def next_frame(self) -> tuple[bytes, list[str]]:
        """Play one 20 ms tick: (160-byte μ-law frame, marks whose audio finished playing by
        the start of this tick, in order)."""
        done, self._finishing = self._finishing, []
        self._playing = False
        if not self._audio:
            return SILENCE, done
        if self._warmup > 0:
            self._warmup -= 1
            return SILENCE, done
        chunk = bytes(self._audio[:FRAME_BYTES])
        del self._audio[:FRAME_BYTES]
        self._played += len(chunk)
        self.heard_bytes += len(chunk)
        if len(chunk) < FRAME_BYTES:
            self.underruns += 1
            chunk += SILENCE[len(chunk):]
        self._playing = True
        while self._marks and self._marks[0][0] <= self._played:
            self._finishing.append(self._marks.popleft()[1])
        return chunk, done
