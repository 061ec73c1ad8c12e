"""Stream tokens never reach stored events, any stored column, Participant.to, or the logs.

A whole conference runs through Forkline (gunicorn) and the simulator: the customer and the
agent dialed, the AI dialed through the TwiML App, every stream started with its token, a tone
echoed, the conference ended. Then every text column of every table and every log line are
searched for any string that is a stream token under the server's key (whoever minted it), and
for the HMAC signature part of each token Forkline handed the simulator.
"""
from __future__ import annotations

import re
import sqlite3
from urllib.parse import parse_qsl

import pytest

from conference.twilio.security import read_stream_token
from twilio_sim.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
# itsdangerous' URL-safe timed tokens: payload.timestamp.signature (base64url segments).
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{20,}")
SIGNATURE_MIN = 20  # chars; shorter segments could match by chance


def tokens_in(text: str, key: str) -> list[str]:
    """Every substring of `text` that reads as a stream token under `key` (any age)."""
    return [t for t in TOKEN_SHAPE.findall(text)
            if read_stream_token([key], t, 10 * 365 * 86400.0) is not None]


def stored_text(db_path) -> list[tuple[str, str, str]]:
    """(table, column, value) of every non-null value of every table, as text."""
    out = []
    with sqlite3.connect(db_path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cursor = db.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the schema
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                out += [(table, c, str(v)) for c, v in zip(columns, row, strict=True)
                        if v is not None]
    return out


def test_no_token_is_stored_or_logged(e2e):
    api, sim = e2e.api, e2e.sim
    name, customer, agent = "e2e-leaks", "+15550209001", "+15550209002"
    api.call("POST", "/api/conferences", {"name": name, "ai": {
        "agent": "default", "mode": "speak"}, "participants": [
        {"to": customer, "role": "customer", "label": "customer"},
        {"to": agent, "role": "agent", "label": "agent"}]})
    try:
        def streaming():
            d = api.get(f"/api/conferences/{name}")
            kinds = {s["kind"] for s in d["streams"] if s.get("status") != "failed"}
            ai = next((p for p in d["participants"] if p["label"] == "ai"), {})
            return d if "ai" in kinds and ai.get("status") == "joined" else None
        detail = wait_for(streaming, 30, 0.1, message="the AI stream to start")
        sim.tone(customer, 2000.0, 600)
        wait_for(lambda: any(e["event"].startswith("stream") for e in api.get(
            f"/api/conferences/{name}")["events"]), 20, 0.1, message="stream events")
    finally:
        api.call("POST", f"/api/conferences/{name}/end", ok=(200,))
    wait_for(lambda: api.get(f"/api/conferences/{name}")["status"] == "completed", 30, 0.1,
             message="the conference to end")

    key = e2e.stack.env["FORKLINE_SECRET_KEY"]
    # The tokens Forkline gave Twilio (the AI's dial address carries one), known by value.
    handed = [dict(parse_qsl(c["to"].partition("?")[2])).get("token") for c in sim.calls()
              if c["to"].startswith("app:")]
    handed = [t for t in handed if t]
    assert handed and all(tokens_in(t, key) == [t] for t in handed)
    signatures = [t.rsplit(".", 1)[1] for t in handed]
    assert all(len(s) >= SIGNATURE_MIN for s in signatures)

    stored = stored_text(e2e.stack.workdir / "forkline.sqlite")
    assert any(t == "participant" for t, _, _ in stored) and detail["participants"]
    for table, column, value in stored:
        assert not tokens_in(value, key), f"a stream token is stored in {table}.{column}: {value}"
        assert not any(s in value for s in signatures), f"a token signature in {table}.{column}"
    for p in api.get(f"/api/conferences/{name}")["participants"]:
        assert "token" not in str(p)

    log = (e2e.stack.workdir / "forkline.log").read_text()
    assert log.strip(), "the server logged nothing: the scan would prove nothing"
    assert not tokens_in(log, key), "a stream token is in the server log"
    assert not any(s in log for s in signatures), "a token signature is in the server log"
