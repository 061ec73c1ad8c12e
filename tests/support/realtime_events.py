"""Server events of the Realtime protocol, for tests that drive RealtimeProtocol directly."""
from __future__ import annotations

import base64

from agents.realtime.protocol import RealtimeProtocol

PCMU_SESSION = {"type": "realtime", "audio": {"input": {"format": {"type": "audio/pcmu"}},
                                              "output": {"format": {"type": "audio/pcmu"}}}}


def ready(proto: RealtimeProtocol):
    """Open a server session and confirm its config; returns the session.updated step."""
    proto.on_event({"type": "session.created", "session": {}})
    return proto.on_event({"type": "session.updated", "session": PCMU_SESSION})


def delta(rid: str, item: str, nbytes: int) -> dict:
    """An audio delta of `nbytes` of mu-law."""
    return {"type": "response.output_audio.delta", "response_id": rid, "item_id": item,
            "delta": base64.b64encode(b"\x7f" * nbytes).decode()}
