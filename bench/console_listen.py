"""Console live-listen cost: tap publish -> browser-socket receive latency, and CPU per listener.

    .venv/bin/python -m bench.console_listen --listeners 0,5,20 --seconds 5

One process runs the app (werkzeug's threaded server, not gunicorn/gevent) and publishes one
160-byte mu-law chunk every 20 ms into a leg's tap, stamped with time.time_ns(); a child
process holds N signed-in /console/listen sockets and reports receive - stamp per chunk. The
app process's CPU (os.times, user+sys) over the run, minus the 0-listener run, divided by N, is
the CPU per listener. The browser's own jitter buffer (60 ms start) is not included.
"""
from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import statistics
import struct
import sys
import tempfile
import threading
import time

from werkzeug.serving import make_server

FRAME_S = 0.02
PASSWORD = "bench password 0123"


def _setup(tmp: str):
    from app import create_app
    from console.users import create_user
    from models import Base, Conference, Participant, Tenant, transaction

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite",
                      "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING", "AI_BACKEND": "echo",
                      "PUBLIC_URL": "http://127.0.0.1", "RECORDINGS_DIR": tmp})
    Base.metadata.create_all(app.extensions["db_engine"])
    with app.app_context():
        with transaction() as session:
            tenant = Tenant(name="bench")
            session.add(tenant)
            session.flush()
            conf = Conference(tenant_id=tenant.id, name="room", status="in-progress")
            conf.participants.append(Participant(label="customer", role="customer",
                                                 call_sid="CA" + "b" * 32, status="joined"))
            session.add(conf)
        create_user("bench", "sup@bench.test", "supervisor", PASSWORD)
    return app


def _cookie(app) -> str:
    import re

    client = app.test_client()
    html = client.get("/console/signin").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    client.post("/console/signin", data={"tenant": "bench", "email": "sup@bench.test",
                                         "password": PASSWORD, "csrf_token": token})
    return client.get_cookie("session").value


def _listeners(port: int, cookie: str, count: int, seconds: float, out) -> None:
    from simple_websocket import Client

    sockets = [Client.connect(f"ws://127.0.0.1:{port}/console/listen/room?leg=customer",
                              headers={"Cookie": f"session={cookie}",
                                       "Origin": "http://127.0.0.1"}) for _ in range(count)]
    out.put("ready")
    lat: list[float] = []
    lock = threading.Lock()

    def read(ws) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            data = ws.receive(timeout=0.5)
            if data:
                ms = (time.time_ns() - struct.unpack("<q", data[:8])[0]) / 1e6
                with lock:
                    lat.append(ms)
        ws.close()

    threads = [threading.Thread(target=read, args=(ws,)) for ws in sockets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(lat)


def run_step(app, port: int, cookie: str, count: int, seconds: float) -> dict:
    """One measurement with `count` listeners."""
    from conference.media import registry

    taps = registry.get_plane(app).taps
    queue = multiprocessing.Queue()
    child = None
    if count:
        child = multiprocessing.Process(target=_listeners,
                                        args=(port, cookie, count, seconds + 1, queue))
        child.start()
        assert queue.get(timeout=30) == "ready"
        while len(taps._subs.get("CA" + "b" * 32, [])) < count:  # TapHub has no count API
            time.sleep(0.01)
    before, started = os.times(), time.monotonic()
    next_at = started
    while time.monotonic() - started < seconds:
        taps.publish("CA" + "b" * 32, struct.pack("<q", time.time_ns()) + b"\xff" * 152)
        next_at += FRAME_S
        time.sleep(max(0.0, next_at - time.monotonic()))
    after = os.times()
    cpu = (after.user - before.user) + (after.system - before.system)
    lat = queue.get(timeout=60) if child else []
    if child:
        child.join(30)
    step = {"listeners": count, "cpu_pct": round(100 * cpu / seconds, 2)}
    if lat:
        lat.sort()
        step.update(p50_ms=round(statistics.median(lat), 2),
                    p95_ms=round(lat[int(0.95 * (len(lat) - 1))], 2),
                    max_ms=round(lat[-1], 2), chunks=len(lat))
    return step


def main(argv: list[str] | None = None) -> None:
    """Run the steps and print one JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", default="0,5,20")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        app = _setup(tmp)
        cookie = _cookie(app)
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        steps = [run_step(app, httpd.server_port, cookie, int(n), args.seconds)
                 for n in args.listeners.split(",")]
        httpd.shutdown()
    base = next((s["cpu_pct"] for s in steps if s["listeners"] == 0), 0.0)
    for s in steps:
        if s["listeners"]:
            s["cpu_pct_per_listener"] = round((s["cpu_pct"] - base) / s["listeners"], 3)
    json.dump({"bench": "console_listen", "seconds": args.seconds, "steps": steps}, sys.stdout,
              indent=2)
    print()


if __name__ == "__main__":
    main()
