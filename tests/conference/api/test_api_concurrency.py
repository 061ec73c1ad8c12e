"""Admin API under concurrent requests: the AI cap, labels and names hold."""
from __future__ import annotations

import threading

TWO = [{"to": "+15551110001", "role": "customer", "label": "customer"},
       {"to": "+15551110002", "role": "agent", "label": "agent"}]


def run_together(*calls):
    """Run the callables at once (threads behind a barrier); their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_ai_cap_holds_under_concurrent_requests(twilio_app, api_as, fake_twilio, new_tenant):
    _, key = new_tenant("capped", max_ai_sessions=1)
    for name in ("a", "b"):
        api_as(key).post("/conferences", {"name": name, "participants": TWO[:1]})
    results = run_together(
        lambda: api_as(key).put("/conferences/a/ai", {"agent": "default", "mode": "speak"}),
        lambda: api_as(key).put("/conferences/b/ai", {"agent": "default", "mode": "speak"}))
    assert sorted(r.status_code for r in results) == [201, 429]
    ais = [c["ai"] for c in api_as(key).get("/conferences").json["conferences"]]
    assert sorted(ai is not None for ai in ais) == [False, True]


def test_concurrent_supervisors_get_distinct_labels_or_409(twilio_app, api, fake_twilio):
    api.post("/conferences", {"name": "room", "participants": TWO})
    results = run_together(*[
        lambda: api.post("/conferences/room/supervisors", {"to": "+15551110003",
                                                           "mode": "listen"})] * 3)
    assert {r.status_code for r in results} <= {201, 409}
    created = [r.json["label"] for r in results if r.status_code == 201]
    assert created and len(created) == len(set(created))
    assert all(r.json["error"]["code"] == "duplicate_label" for r in results
               if r.status_code == 409)


def test_concurrent_duplicate_names_one_wins(twilio_app, api, fake_twilio):
    results = run_together(*[lambda: api.post("/conferences", {"name": "room",
                                                               "participants": TWO[:1]})] * 3)
    assert sorted(r.status_code for r in results) == [201, 409, 409]
    # Legs dialed by the losers were hung up again.
    live = [c for c in fake_twilio.calls.values() if c["status"] != "completed"]
    assert len(live) == 1
