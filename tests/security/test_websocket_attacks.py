"""Attacks on the media sockets' framing, against a real gunicorn worker."""
from __future__ import annotations

import contextlib

import pytest

from .attack_server import close_code, masked, upgrade

# A gunicorn boot counts toward the first test; on a loaded machine it took 70-90 s.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_empty_continuation_flood_is_closed_1009_and_the_worker_answers(forkline, live_stream):
    s = upgrade(forkline)
    flood = masked(0x02, b"") + masked(0x00, b"") * 550_000  # ~3.3 MB of empty fragments
    with contextlib.suppress(OSError):  # the server may close before taking it all
        s.sendall(flood)
    assert close_code(s) == 1009
    assert forkline.healthz() == 200
    s.close()


def test_invalid_deflate_is_closed_1007_not_a_traceback(forkline):
    s = upgrade(forkline, extensions="permessage-deflate")
    s.sendall(masked(0x80 | 0x40 | 0x01, b"\xff\xfe garbage"))
    assert close_code(s) == 1007
    assert forkline.healthz() == 200
    s.close()
    assert "zlib.error" not in forkline.log.read_text()


def test_unmasked_frame_is_closed_1002(forkline):
    s = upgrade(forkline)
    s.sendall(bytes((0x81, 2)) + b"{}")
    assert close_code(s) == 1002
    s.close()
