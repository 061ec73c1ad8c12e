"""A worker's media plane as the listen relay sees it (its taps, which of them it owns), for
relay tests against a real Redis that run the relay's steps themselves (no threads, no sockets)."""
from __future__ import annotations

from conference.media.taps import TapHub


class Plane:
    """What the relay needs of a worker's media plane: its taps and which of them it owns."""

    def __init__(self, owned: set[str]) -> None:
        self.taps, self.owned = TapHub(), owned

    def local_taps(self) -> set[str]:
        return set(self.owned)
