"""The stream-memory bench's allocator breakdown reads real numbers from this very process."""
from __future__ import annotations

import gc
import os

from bench._allocstats import glibc, pymalloc, rss_by_mapping
from bench._procstat import rss_bytes


def test_resident_memory_by_mapping_adds_up_to_the_process_rss():
    parts = rss_by_mapping()
    assert parts["rss_heap"] > 0 and parts["rss_file"] > 0  # the brk heap and the binaries
    total, rss = sum(parts.values()), rss_bytes(os.getpid())
    assert abs(total - rss) < 0.1 * rss  # smaps per mapping vs statm's total


def test_pymalloc_counts_small_objects_in_use():
    gc.collect()  # no collection of older garbage in between to offset the growth
    before = pymalloc()
    kept = [object() for _ in range(200_000)]  # 16 B each, all from pymalloc's pools
    after = pymalloc()
    assert set(after) == {"pymalloc_arenas", "pymalloc_in_use", "pymalloc_free_blocks",
                          "pymalloc_unused_pools"}
    assert after["pymalloc_in_use"] - before["pymalloc_in_use"] >= 0.8 * 16 * len(kept)


def test_glibc_counts_a_large_block_in_use():
    before = glibc()
    block = bytearray(100_000)  # past pymalloc's 512 B: glibc's heap (or its own mmap)
    after = glibc()
    grown = sum(after[k] - before[k] for k in ("glibc_in_use", "glibc_mmapped"))
    assert grown >= len(block)
