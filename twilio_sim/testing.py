"""Helpers for tests of any package: run the simulator as a subprocess and talk to it."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_LISTENING = re.compile(r"twilio_sim listening on (http://\S+)")


def start_sim_subprocess(account_sid: str, auth_token: str, clock_rate: float = 1.0,
                         timeout_s: float = 20.0, log_level: str = "WARNING",
                         allow_ws: bool = False, lenient: tuple[str, ...] = ()
                         ) -> tuple[str, subprocess.Popen]:
    """Start `python -m twilio_sim --port 0`; return (base_url, process). Stop with stop_sim().

    `allow_ws` passes the development flag (local test servers speak ws://); `lenient` names
    strictness rules to relax (see twilio_sim/strictness.py)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TWILIO_REGION", "TWILIO_EDGE")
           and not k.startswith("TWILIO_SIM_")}  # only the arguments decide strictness
    env.update(TWILIO_ACCOUNT_SID=account_sid, TWILIO_AUTH_TOKEN=auth_token,
               PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "twilio_sim", "--port", "0", "--clock-rate", str(clock_rate),
         "--log-level", log_level, "--lenient", ",".join(lenient)]
        + (["--allow-ws"] if allow_ws else []),
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=None, text=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = _LISTENING.search(line)
        if match:
            return match.group(1), proc
    stop_sim(proc)
    raise RuntimeError(f"twilio_sim did not start (exit code {proc.poll()})")


def stop_sim(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """Terminate the simulator process and wait for it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout:
        proc.stdout.close()


def sdk_client(base_url: str, account_sid: str, auth_token: str):
    """A real twilio.rest.Client whose api domain points at the simulator."""
    from twilio.rest import Client

    # environment={}: TWILIO_REGION / TWILIO_EDGE would otherwise rewrite the host.
    client = Client(account_sid, auth_token, environment={})
    client.api.base_url = base_url
    return client


class SimControl:
    """A tiny client for the /sim control API (uses requests)."""

    def __init__(self, base_url: str):
        import requests

        self.base = base_url.rstrip("/") + "/sim"
        self.http = requests.Session()

    def _call(self, method: str, path: str, **json):
        resp = self.http.request(method, self.base + path, json=json or None, timeout=10)
        resp.raise_for_status()
        return resp.json() if resp.headers.get("Content-Type", "").startswith(
            "application/json") else resp.content

    def phones(self) -> list[dict]:
        """GET /sim/phones."""
        return self._call("GET", "/phones")["phones"]

    def say(self, number: str, text: str) -> dict:
        """Make a phone speak a line of text."""
        return self._call("POST", f"/phones/{number}/say", text=text)

    def play_fixture(self, number: str, fixture: str) -> dict:
        """Make a phone speak a committed WAV fixture."""
        return self._call("POST", f"/phones/{number}/play", fixture=fixture)

    def tone(self, number: str, freq: float, ms: int, dbfs: float = -12.0) -> dict:
        """Make a phone play a sine tone."""
        return self._call("POST", f"/phones/{number}/tone", freq=freq, ms=ms, dbfs=dbfs)

    def dtmf(self, number: str, digits: str) -> dict:
        """Press keys on a phone."""
        return self._call("POST", f"/phones/{number}/dtmf", digits=digits)

    def hangup(self, number: str, after: float = 0) -> dict:
        """Hang a phone up now or after `after` simulated seconds."""
        return self._call("POST", f"/phones/{number}/hangup", after=after)

    def answer_mode(self, number: str, mode: str = "answer", ring_seconds: float = 0.1) -> dict:
        """How a phone answers: answer | busy | no-answer | failed, after ring_seconds."""
        return self._call("POST", f"/phones/{number}/answer", mode=mode,
                          ring_seconds=ring_seconds)

    def record(self, number: str, action: str = "start") -> dict:
        """Start or stop recording what a phone hears."""
        return self._call("POST", f"/phones/{number}/recording/{action}")

    def recording_wav(self, number: str) -> bytes:
        """The phone's recording as WAV bytes."""
        return self._call("GET", f"/phones/{number}/recording.wav")

    def calls(self) -> list[dict]:
        """GET /sim/calls."""
        return self._call("GET", "/calls")["calls"]

    def inbound_call(self, from_: str, to: str, url: str) -> dict:
        """A phone calls in; the simulator POSTs `url` for TwiML."""
        return self._call("POST", "/calls/inbound", **{"from": from_, "to": to, "url": url})

    def stream_fault(self, stream_sid: str, fault: str, **params) -> dict:
        """kill | delay (delay_ms, jitter_ms, to_caller_ms, to_caller_jitter_ms,
        playout_start_ms)."""
        return self._call("POST", f"/streams/{stream_sid}/{fault}", **params)

    def fail_streams(self, call_sid: str, code: int = 31920, count: int = 1) -> dict:
        """The call's next `count` streams fail at connect with `code`."""
        return self._call("POST", f"/calls/{call_sid}/fail-streams", code=code, count=count)

    def strictness(self) -> dict:
        """GET /sim/strictness."""
        return self._call("GET", "/strictness")

    def stats(self, reset: bool = False) -> dict:
        """Tick-loop health (GET /sim/stats); `reset` restarts the worst-lag measurement."""
        return self._call("GET", "/stats?reset=1" if reset else "/stats")

    def callbacks(self) -> list[dict]:
        """The status callbacks the simulator sent."""
        return self._call("GET", "/callbacks")["callbacks"]


def wait_for(predicate, timeout_s: float = 10.0, interval_s: float = 0.02, message: str = ""):
    """Poll `predicate` until it returns something truthy; AssertionError on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message or predicate}")
        time.sleep(interval_s)


@dataclass
class RunningSim:
    """A simulator subprocess with its credentials and a control client."""

    base_url: str
    process: subprocess.Popen
    account_sid: str
    auth_token: str
    control: SimControl

    def client(self):
        """A fresh real twilio.rest.Client on this simulator."""
        return sdk_client(self.base_url, self.account_sid, self.auth_token)


@contextmanager
def running_sim(account_sid: str, auth_token: str, clock_rate: float = 1.0,
                allow_ws: bool = False, lenient: tuple[str, ...] = ()
                ) -> Iterator[RunningSim]:
    """`with running_sim(sid, token) as sim:` starts the simulator and always stops it."""
    base_url, proc = start_sim_subprocess(account_sid, auth_token, clock_rate,
                                          allow_ws=allow_ws, lenient=lenient)
    try:
        yield RunningSim(base_url, proc, account_sid, auth_token, SimControl(base_url))
    finally:
        stop_sim(proc)
