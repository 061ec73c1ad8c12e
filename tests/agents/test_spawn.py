"""Helper programs start without forking the worker, are read cooperatively and always reaped."""
from __future__ import annotations

import os

import pytest

from agents import speech
from agents.spawn import SpawnedReader
from tests.support.processes import last_json_line, run_python

DRIVER = r"""
from gevent import monkey; monkey.patch_all()
import json, os, gevent
forks = []
os.register_at_fork(before=lambda: forks.append(1))  # gevent's Popen forks; posix_spawn not
from agents import speech
ticks = []
def ticker():
    while True:
        ticks.append(1); gevent.sleep(0.001)
gevent.spawn(ticker)
chunks = list(speech.stream_ulaw("The basic plan costs ten dollars a month."))
print(json.dumps({"chunks": len(chunks), "bytes": sum(map(len, chunks)), "ticks": len(ticks),
                  "forks": len(forks)}))
"""


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_output_is_read_to_the_end_and_the_child_reaped():
    reader = SpawnedReader(["printf", "hello"])
    assert reader.read_exactly(10) == b"hello" and reader.read(10) == b""
    reader.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(reader.pid, os.WNOHANG)  # no zombie left


def test_stopping_early_kills_the_child_and_leaks_no_descriptor():
    before = open_fds()
    reader = SpawnedReader(["cat", "/dev/zero"])  # would never end by itself
    assert len(reader.read_exactly(4096)) == 4096
    reader.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(reader.pid, os.WNOHANG)
    assert open_fds() == before


def test_a_missing_program_raises_and_leaks_no_descriptor():
    before = open_fds()
    with pytest.raises(FileNotFoundError):
        SpawnedReader(["forkline-no-such-program"])
    assert open_fds() == before


@pytest.mark.skipif(not speech.available(), reason="espeak-ng not installed")
def test_synthesis_under_gevent_never_forks_the_worker():
    report = last_json_line(run_python("-c", DRIVER, timeout=60))
    assert report["forks"] == 0
    assert report["chunks"] > 1 and report["bytes"] > 8000  # over a second of speech
    assert report["ticks"] > 1  # the hub ran other greenlets while espeak-ng spoke
