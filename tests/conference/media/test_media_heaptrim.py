"""HeapTrimmer: glibc's malloc_trim at most once per interval, timed; off at interval 0."""
from __future__ import annotations

import ctypes

from conference.media.heaptrim import HeapTrimmer, glibc_malloc_trim


class Calls:
    def __init__(self) -> None:
        self.trims: list[int] = []
        self.observed: list[float] = []

    def trim(self, pad: int) -> int:
        self.trims.append(pad)
        return 1


def test_it_trims_once_per_interval_and_times_each_trim():
    calls = Calls()
    trimmer = HeapTrimmer(10.0, calls.trim, calls.observed.append, now=100.0)
    assert not trimmer.tick(105.0)  # not due yet
    assert trimmer.tick(110.0)
    assert not trimmer.tick(115.0)
    assert trimmer.tick(120.5)
    assert calls.trims == [0, 0] and len(calls.observed) == 2 and trimmer.trims == 2
    assert all(spent >= 0 for spent in calls.observed)


def test_an_interval_of_zero_or_no_glibc_never_trims():
    calls = Calls()
    assert not HeapTrimmer(0.0, calls.trim, calls.observed.append, now=0.0).tick(1e9)
    assert not HeapTrimmer(10.0, None, calls.observed.append, now=0.0).tick(1e9)
    assert calls.trims == [] and calls.observed == []


def test_glibc_trim_gives_freed_pages_back():
    trim = glibc_malloc_trim()
    assert trim is not None  # the product's Linux images run glibc
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    # Blocks below the mmap threshold, freed except every tenth: holes in the heap's middle.
    blocks = [libc.malloc(64 * 1024) for _ in range(200)]
    for i, block in enumerate(blocks):
        if i % 10:
            libc.free(block)
    assert trim(0) == 1  # 1: memory was released to the system
    for block in blocks[::10]:
        libc.free(block)
