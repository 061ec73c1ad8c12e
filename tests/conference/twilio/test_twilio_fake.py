"""The fake's spec checks catch what they should (so a passing suite means something)."""
from __future__ import annotations

import twilio_spec

ACC = "/2010-04-01/Accounts/AC" + "0" * 31 + "1"


def test_spec_is_found_relative_to_repo():
    assert twilio_spec.SPEC_PATH.exists()
    assert twilio_spec.load_spec()["info"]["title"] == "Twilio - Api"


def test_request_checks():
    path = ACC + "/Conferences/room/Participants.json"
    assert twilio_spec.validate_request("POST", path, {"From": ["+1"], "To": ["+2"]}) == []
    problems = twilio_spec.validate_request(
        "POST", path, {"To": ["+2"], "Beep": ["loud"], "Bogus": ["1"], "Muted": ["yes"],
                       "ConferenceStatusCallbackEvent": ["join", "explode"]})
    assert sorted(problems) == sorted([
        "required parameter From is missing", "undeclared parameter Bogus",
        "Beep='loud' is not one of ['false', 'onEnter', 'onExit', 'true']",
        "Muted='yes' is not a boolean",
        "ConferenceStatusCallbackEvent='explode' is not one of ['announcement', 'end', 'hold', "
        "'join', 'leave', 'modify', 'mute', 'speaker', 'start']"])
    assert twilio_spec.validate_request("PUT", path, {}) == [
        "PUT not allowed on /2010-04-01/Accounts/{AccountSid}/Conferences/{ConferenceSid}"
        "/Participants.json"]
    assert twilio_spec.validate_request("POST", ACC + "/Nope.json", {}) == [
        f"no such path {ACC}/Nope.json"]
    # Updating a participant needs a CF sid, not a FriendlyName.
    assert any("does not match" in p for p in twilio_spec.validate_request(
        "POST", ACC + "/Conferences/room/Participants/ai.json", {"Muted": ["true"]}))


def test_response_checks():
    op, _ = twilio_spec.find_operation("POST", ACC + "/Calls/CA" + "0" * 32 + "/Streams.json")
    assert twilio_spec.validate_response(op, 200, {"sid": "MZ1", "status": "in-progress"}) == []
    assert twilio_spec.validate_response(op, 200, {"sid": "MZ1", "status": "running",
                                                   "extra": 1}) == [
        "CreateStream.status='running' is not one of ['in-progress', 'stopped']",
        "CreateStream: undeclared key extra"]
    assert twilio_spec.validate_response(op, 201, {}) == [
        "CreateStream does not declare status 201"]


def test_fake_flags_violations(app_config):
    from twilio_fake import FakeTwilio

    fake = FakeTwilio(app_config["TWILIO_ACCOUNT_SID"], app_config["TWILIO_AUTH_TOKEN"])
    status, body = fake.handle("POST", ACC + "/Conferences/room/Participants.json",
                               "To=%2B1&Beep=loud", "Basic x")
    assert status == 401  # bad credentials first
    assert fake.violations  # ...and the bad request is still recorded as a violation
    assert fake.requests[0].operation_id == "CreateParticipant"
