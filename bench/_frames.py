"""Numbered test frames and their 20 ms schedule, shared by the load generators."""
from __future__ import annotations

import asyncio

FRAME_BYTES = 160
FRAME_S = 0.020
LATE_S = 0.020  # a frame handed to the socket this late was delayed by the generator itself
MAGIC = b"\x10\x20\x30\x01"  # never produced by the id digits (0x40-0x4f) or the filler
_FILLER = b"\x55" * (FRAME_BYTES - len(MAGIC) - 8)


def encode_frame(frame_id: int) -> bytes:
    """160 bytes of mu-law whose first 12 bytes say which frame this is."""
    digits = bytes(0x40 | ((frame_id >> shift) & 0xF) for shift in range(28, -4, -4))
    return MAGIC + digits + _FILLER



async def frame_schedule(t0: float, n_frames: int):
    """Yield (k, due, now) for frame k on its 20 ms slot from t0 (loop time), sleeping until due."""
    loop = asyncio.get_running_loop()
    for k in range(n_frames):
        due = t0 + k * FRAME_S
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        yield k, due, loop.time()

class FrameScanner:
    """Finds frame ids in a returned byte stream, whatever its message boundaries."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.garbage = 0  # bytes that were not part of one of our frames (greetings, silence)

    def feed(self, audio: bytes) -> list[int]:
        """Append audio; return the ids of the frames it completed."""
        buf = self.buffer
        buf += audio
        ids = []
        while True:
            at = buf.find(MAGIC)
            if at < 0:
                keep = len(MAGIC) - 1
                self.garbage += max(len(buf) - keep, 0)
                del buf[: max(len(buf) - keep, 0)]
                return ids
            if len(buf) - at < FRAME_BYTES:
                self.garbage += at
                del buf[:at]
                return ids
            self.garbage += at
            frame_id = 0
            for digit in buf[at + 4 : at + 12]:
                frame_id = (frame_id << 4) | (digit & 0xF)
            ids.append(frame_id)
            del buf[: at + FRAME_BYTES]
