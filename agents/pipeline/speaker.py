"""Sans-I/O helpers for speaking a streamed reply: sentence cutting and 20 ms framing."""
from __future__ import annotations

import re

from agents.audio import ULAW_FRAME_BYTES, ULAW_SILENCE

_SENTENCE_END = re.compile(r"[.!?;:](?=\s)")
SOFT_LIMIT = 120  # cut long clauses at a comma so TTS can start before the sentence ends


def cut_sentences(buffer: str) -> tuple[list[str], str]:
    """Complete sentences at the front of `buffer`, and the unfinished rest."""
    sentences: list[str] = []
    while True:
        match = _SENTENCE_END.search(buffer)
        if match is None and len(buffer) > SOFT_LIMIT and "," in buffer:
            end = buffer.rindex(",") + 1
        elif match is not None:
            end = match.end()
        else:
            return sentences, buffer
        sentence, buffer = buffer[:end].strip(), buffer[end:].lstrip()
        if sentence:
            sentences.append(sentence)


class Framer:
    """Regroups mu-law chunks of any size into whole 20 ms frames."""

    def __init__(self) -> None:
        self._pending = b""
        self.sent_bytes = 0

    def push(self, ulaw: bytes) -> bytes:
        """The whole frames now available (possibly b"")."""
        data = self._pending + ulaw
        cut = len(data) - len(data) % ULAW_FRAME_BYTES
        self._pending = data[cut:]
        self.sent_bytes += cut
        return data[:cut]

    def flush(self) -> bytes:
        """The remainder padded with silence to one whole frame (b"" when nothing is left)."""
        if not self._pending:
            return b""
        out = self._pending + ULAW_SILENCE * (ULAW_FRAME_BYTES - len(self._pending))
        self._pending = b""
        self.sent_bytes += len(out)
        return out


def truncate_text(text: str, heard_ms: int, generated_ms: int) -> str:
    """The share of `text` the caller heard, by the fraction of audio played (word-aligned)."""
    if generated_ms <= 0 or heard_ms >= generated_ms:
        return text
    words = text.split()
    keep = int(len(words) * max(heard_ms, 0) / generated_ms)
    return " ".join(words[:keep]) + ("..." if keep < len(words) else "")
