"""The REST layer in-process (Flask test client, tick loop not started): auth, paging, shapes."""
from __future__ import annotations

import base64

import pytest
from spec_check import check_response

from twilio_sim.clock import VirtualClock
from twilio_sim.server import create_sim_app

SID, TOKEN = "AC" + "7" * 32, "unit-token"
BASE = f"/2010-04-01/Accounts/{SID}"


@pytest.fixture
def sim_client():
    app = create_sim_app(SID, TOKEN, VirtualClock(), start=False)
    client = app.test_client()
    auth = base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Basic {auth}"
    return client


def test_applications_page_through(sim_client):
    sids = [sim_client.post(f"{BASE}/Applications.json",
                            data={"FriendlyName": f"app-{i}", "VoiceUrl": "https://x/v"}
                            ).get_json()["sid"] for i in range(3)]
    first = sim_client.get(f"{BASE}/Applications.json?PageSize=2")
    body = check_response("GET", f"{BASE}/Applications.json", 200, first.get_data(as_text=True))
    assert [a["sid"] for a in body["applications"]] == sids[:2]
    assert body["page"] == 0 and body["page_size"] == 2 and body["previous_page_uri"] is None
    second = sim_client.get(body["next_page_uri"]).get_json()
    assert [a["sid"] for a in second["applications"]] == sids[2:]
    assert second["next_page_uri"] is None and second["start"] == 2


def test_wrong_account_in_path_is_404_and_no_auth_is_401(sim_client):
    other = "/2010-04-01/Accounts/AC" + "8" * 32 + "/Calls.json"
    assert sim_client.get(other).get_json()["code"] == 20404
    resp = sim_client.get(f"{BASE}/Calls.json", environ_base={"HTTP_AUTHORIZATION": ""})
    assert resp.status_code == 401 and resp.get_json()["code"] == 20003


def test_method_not_allowed_is_json(sim_client):
    resp = sim_client.put(f"{BASE}/Calls.json")
    assert resp.status_code == 405 and resp.get_json()["code"] == 20004


def test_participant_create_by_name_makes_an_init_conference(sim_client):
    resp = sim_client.post(f"{BASE}/Conferences/my-room/Participants.json",
                           data={"To": "+15550000001", "From": "+15550000000",
                                 "Label": "cust", "Beep": "onEnter"})
    part = check_response("POST", f"{BASE}/Conferences/my-room/Participants.json", 201,
                          resp.get_data(as_text=True))
    assert part["status"] == "queued" and part["label"] == "cust" and part["queue_time"] == "0"
    conf = sim_client.get(f"{BASE}/Conferences/{part['conference_sid']}.json").get_json()
    assert conf["friendly_name"] == "my-room" and conf["status"] == "init"
    by_label = sim_client.get(f"{BASE}/Conferences/{conf['sid']}/Participants/cust.json")
    assert by_label.get_json()["call_sid"] == part["call_sid"]


def test_status_page_escapes_names(sim_client):
    resp = sim_client.post(f"{BASE}/Conferences/<b>x<script>/Participants.json",
                           data={"To": "+15550000001", "From": "+15550000000"})
    assert resp.status_code == 201
    page = sim_client.get("/").get_data(as_text=True)
    assert "&lt;b&gt;x&lt;script&gt;" in page and "<script>" not in page
