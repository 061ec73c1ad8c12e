"""Per-call background work: bare greenlets under gevent, deep calls run apart, threads without."""
from __future__ import annotations

import contextvars
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conference.media.loops import run_apart, start_loop

ROOT = Path(__file__).resolve().parents[3]
WHO = contextvars.ContextVar("who", default="nobody")


def test_run_apart_without_gevent_uses_another_thread_and_the_callers_context():
    WHO.set("caller")
    here = threading.get_ident()
    assert run_apart(lambda: (threading.get_ident() != here, WHO.get())) == (True, "caller")


def test_run_apart_hands_the_exception_to_the_caller():
    def boom() -> None:
        raise LookupError("from apart")

    with pytest.raises(LookupError, match="from apart"):
        run_apart(boom)


def test_start_loop_without_gevent_is_a_daemon_thread():
    ran = threading.Event()
    start_loop(ran.set, "test-loop")
    assert ran.wait(10)


DRIVER = r"""
from gevent import monkey; monkey.patch_all()
import contextvars, json, threading
import gevent, gevent.event, greenlet
from conference.media.loops import run_apart, start_loop
who = contextvars.ContextVar("who", default="nobody")
who.set("caller")
threads = threading.active_count()
done = gevent.event.Event()
seen = {}
def loop():
    seen["loop_is_thread"] = isinstance(threading.current_thread(), threading.Thread) and \
        not isinstance(threading.current_thread(), threading._DummyThread)
    done.set()
start_loop(loop, "test-loop")
seen["threads_after_start"] = threading.active_count() - threads
done.wait(10)
me = greenlet.getcurrent()
seen["apart"] = run_apart(lambda: (greenlet.getcurrent() is not me, who.get()))
print(json.dumps(seen))
"""


def test_under_gevent_a_loop_is_a_bare_greenlet_and_apart_is_another_greenlet():
    out = subprocess.run([sys.executable, "-c", DRIVER], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True)
    seen = json.loads(out.stdout.splitlines()[-1])
    # No Thread object (and its Event, Condition and locks) per call: not counted as a thread.
    assert seen["threads_after_start"] == 0 and seen["loop_is_thread"] is False
    assert seen["apart"] == [True, "caller"]
