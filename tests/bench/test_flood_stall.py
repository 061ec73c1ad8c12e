"""Keeps bench/flood_stall.py running: a tiny flood of each kind against this tree's server."""
from __future__ import annotations

import pytest

from tests.support.processes import run_bench

pytestmark = pytest.mark.slow


def test_tiny_floods_against_the_current_code_produce_a_row_each(tmp_path):
    run, report = run_bench(
        "flood_stall", "--versions", "after", "--sizes", "0.1", "--fragments", "200",
        "--sockets", "5", "--hold", "0.5", "--baseline", "0.2", "--window", "10",
        report=tmp_path / "flood.json", timeout=300)
    rows = {row["flood"]: row for row in report["rows"]}
    assert rows["body 0.1 MB, no signature"]["answer"].startswith("403")
    assert rows["body 0.1 MB, bogus signature"]["answer"].startswith("413")
    assert rows["200 empty fragments"]["answer"] == "close 1009"
    assert rows["5 idle sockets, 0.5 s"]["answer"].startswith("5 open, 0 refused")
    assert all(row["recovered"] for row in rows.values())
    assert all(row["healthz_probes"] >= 1 for row in rows.values())
    assert "| after | no flood (baseline) |" in run.stdout
