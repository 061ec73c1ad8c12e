"""Keeps bench/ws_codec_bench.py running: both codecs frame the same streams, end to end too."""
from __future__ import annotations

import pytest

from bench._ws_protocol import ProtocolCodec
from bench.ws_codec_bench import inbound, outbound, random_cuts
from conference.media.wsframe import FrameParser, ProtocolError, frame
from tests.support.processes import run_python


def test_the_adapter_yields_what_the_hand_written_parser_yields_on_the_bench_streams():
    cut = random_cuts(inbound(50))
    mine, theirs = FrameParser(), ProtocolCodec()
    assert [m for c in cut for m in mine.feed(c)] == [m for c in cut for m in theirs.feed(c)]
    texts = [t.encode() for t in outbound(20)]
    assert [ProtocolCodec().text(t) for t in texts] == [frame(0x1, t) for t in texts]


def test_the_adapter_closes_a_fragment_flood_with_1009():
    codec = ProtocolCodec(max_fragments=4)
    flood = bytes((0x02, 0x80)) + b"\0" * 4 + (bytes((0x00, 0x80)) + b"\0" * 4) * 5
    with pytest.raises(ProtocolError) as exc:
        codec.feed(flood)
    assert exc.value.code == 1009


def test_micro_run_prints_every_case_with_a_ratio():
    run = run_python("-m", "bench.ws_codec_bench", "--frames", "50", "--repeat", "2",
                     timeout=120)
    rows = [line for line in run.stdout.splitlines() if line.startswith("| in:")
            or line.startswith("| out:") or line.startswith("| echo:")]
    assert len(rows) == 5
    for row in rows:
        hand, proto, ratio = (float(cell) for cell in row.strip("|").split("|")[1:])
        # The cells are rounded to 0.01: the printed ratio matches theirs to within that rounding.
        assert hand > 0 and proto > 0 and ratio == pytest.approx(proto / hand, rel=0.05)


@pytest.mark.slow
def test_end_to_end_runs_both_socket_shells_in_the_procfile_server():
    # The run itself checks the worker log: ProtocolSocket was installed only in 'wsproto'.
    run = run_python("-m", "bench.ws_codec_bench", "--frames", "20", "--repeat", "1",
                     "--e2e-streams", "1", "--e2e-rounds", "1", "--e2e-warmup", "0.2",
                     "--e2e-duration", "0.5", timeout=300)
    assert "| FastSocket (hand-written) |" in run.stdout
    assert "| ProtocolSocket (ServerProtocol) |" in run.stdout
