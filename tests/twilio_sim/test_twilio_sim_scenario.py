"""End to end on the accelerated clock: who hears whom (forks, an app: AI, a coach, a mute)."""
from __future__ import annotations

import base64

import pytest
from sim_servers import MediaServer, WebhookServer, events

from twilio_sim.audio import read_wav_ulaw, tone_level_dbfs, tone_ulaw, ulaw_to_pcm
from twilio_sim.testing import sdk_client, wait_for

pytestmark = pytest.mark.slow
CUSTOMER, AGENT, COACH, LISTENER = "+15551110001", "+15551110002", "+15551110003", "+15551110004"
FREQ = {CUSTOMER: 440.0, AGENT: 700.0, "ai": 1000.0, COACH: 1300.0, LISTENER: 1600.0}
HEARD, SILENT = -35.0, -50.0
CONNECT = ('<Response><Connect><Stream url="{url}"><Parameter name="role" value="ai"/>'
           '</Stream></Connect></Response>')


def level(ulaw: bytes, freq: float) -> float:
    """Loudest 200 ms level of a tone in μ-law audio."""
    return tone_level_dbfs(ulaw_to_pcm(ulaw), freq, window_ms=200)


def track_audio(conn: dict, track: str) -> bytes:
    """All media of one track received on a stream connection."""
    return b"".join(base64.b64decode(m["media"]["payload"]) for m in events(conn, "media")
                    if m["media"]["track"] == track)


@pytest.fixture(scope="module")
def scenario(fast_sim_server):
    """Customer, agent, AI (app:), a coach on the agent and a muted listener, all talking."""
    sim, ctl = fast_sim_server, fast_sim_server.control
    webhooks, media_server = WebhookServer(sim.auth_token), MediaServer(sim.auth_token)
    client = sdk_client(sim.base_url, sim.account_sid, sim.auth_token)
    media_server.reply_audio = tone_ulaw(FREQ["ai"], 60_000, -20.0)
    webhooks.routes["/ai"] = CONNECT.format(url=media_server.url("/ai"))
    app = client.applications.create(voice_url=webhooks.url("/ai"))
    for number in (CUSTOMER, AGENT, COACH, LISTENER):
        ctl.tone(number, FREQ[number], 120_000, -20.0)
    room = client.conferences("scenario").participants
    parts = {CUSTOMER: room.create(from_="+15550000000", to=CUSTOMER, label="customer",
                                   conference_status_callback=webhooks.url("/conf"),
                                   conference_status_callback_event=["start", "join", "leave"])}
    cf = parts[CUSTOMER].conference_sid
    room = client.conferences(cf).participants
    parts[AGENT] = room.create(from_="+15550000000", to=AGENT, label="agent")
    parts["ai"] = room.create(from_="+15550000000", to=f"app:{app.sid}", label="ai")
    parts[COACH] = room.create(from_="+15550000000", to=COACH, label="coach", coaching=True,
                               call_sid_to_coach=parts[AGENT].call_sid)
    parts[LISTENER] = room.create(from_="+15550000000", to=LISTENER, label="listener",
                                  muted=True)
    wait_for(lambda: len([p for p in room.list() if p.status == "connected"]) == 5, 15,
             message="five participants connected")
    for number, path in ((CUSTOMER, "/fork-customer"), (AGENT, "/fork-agent")):
        client.calls(parts[number].call_sid).streams.create(url=media_server.url(path),
                                                            track="both_tracks")
    ai_conn = media_server.connections.wait_for(lambda c: c["path"] == "/ai")
    forks = {n: media_server.connections.wait_for(lambda c, p=p: c["path"] == p)
             for n, p in ((CUSTOMER, "/fork-customer"), (AGENT, "/fork-agent"))}
    for number in (CUSTOMER, AGENT, COACH, LISTENER):
        ctl.record(number, "start")
    # Two seconds of conference audio, measured on the simulated clock via frames heard.
    start = {p["number"]: p["frames_heard"] for p in ctl.phones()}
    wait_for(lambda: all(p["frames_heard"] - start[p["number"]] >= 100 for p in ctl.phones()
                         if p["number"] in start), 20, message="2 s of audio")
    wait_for(lambda: len(events(forks[AGENT], "media")) >= 200, 20, message="fork media")
    recordings = {}
    for number in (CUSTOMER, AGENT, COACH, LISTENER):
        ctl.record(number, "stop")
        recordings[number] = read_wav_ulaw(ctl.recording_wav(number))
    yield {"client": client, "cf": cf, "parts": parts, "recordings": recordings,
           "ai": ai_conn, "forks": forks, "webhooks": webhooks}
    client.conferences(cf).update(status="completed")
    webhooks.close()
    media_server.close()


def test_each_phone_hears_the_other_and_the_ai(scenario):
    rec = scenario["recordings"]
    assert level(rec[CUSTOMER], FREQ[AGENT]) > HEARD
    assert level(rec[CUSTOMER], FREQ["ai"]) > HEARD
    assert level(rec[AGENT], FREQ[CUSTOMER]) > HEARD
    assert level(rec[AGENT], FREQ["ai"]) > HEARD
    assert level(rec[CUSTOMER], FREQ[CUSTOMER]) < SILENT, "nobody hears themselves"
    assert level(scenario["ai"] and track_audio(scenario["ai"], "inbound"), FREQ[CUSTOMER]) > HEARD


def test_coach_is_heard_only_by_its_target(scenario):
    rec = scenario["recordings"]
    assert level(rec[AGENT], FREQ[COACH]) > HEARD
    assert level(rec[CUSTOMER], FREQ[COACH]) < SILENT
    assert level(rec[LISTENER], FREQ[COACH]) < SILENT
    assert level(track_audio(scenario["ai"], "inbound"), FREQ[COACH]) < SILENT
    assert level(rec[COACH], FREQ[CUSTOMER]) > HEARD, "the coach hears the conference"


def test_muted_participant_is_heard_by_no_one(scenario):
    rec = scenario["recordings"]
    for number in (CUSTOMER, AGENT, COACH):
        assert level(rec[number], FREQ[LISTENER]) < SILENT
    assert level(track_audio(scenario["ai"], "inbound"), FREQ[LISTENER]) < SILENT
    assert level(rec[LISTENER], FREQ[AGENT]) > HEARD, "a muted participant still hears"


def test_forks_carry_own_voice_inbound_and_heard_mix_outbound(scenario):
    fork = scenario["forks"][CUSTOMER]
    inbound, outbound = track_audio(fork, "inbound"), track_audio(fork, "outbound")
    assert level(inbound, FREQ[CUSTOMER]) > HEARD and level(inbound, FREQ[AGENT]) < SILENT
    assert level(outbound, FREQ[AGENT]) > HEARD and level(outbound, FREQ["ai"]) > HEARD
    assert level(outbound, FREQ[CUSTOMER]) < SILENT
    media = events(fork, "media")
    assert all(len(base64.b64decode(m["media"]["payload"])) == 160 for m in media)
    assert all(isinstance(m["sequenceNumber"], str) and isinstance(m["media"]["chunk"], str)
               for m in media)


def test_conference_callbacks_are_signed_and_sequenced(scenario):
    hooks = scenario["webhooks"].requests.matching(lambda r: r["path"] == "/conf")
    assert hooks and all(r["valid"] for r in hooks)
    names = [r["form"]["StatusCallbackEvent"] for r in hooks]
    assert names.count("participant-join") == 5 and names.count("conference-start") == 1
    seqs = sorted(int(r["form"]["SequenceNumber"]) for r in hooks)
    assert seqs == list(range(1, len(seqs) + 1))
    assert all(r["form"]["ConferenceSid"] == scenario["cf"] for r in hooks)


def test_no_tick_errors(scenario, fast_sim_server):
    stats = fast_sim_server.control.stats()
    assert stats["tick_errors"] == 0 and stats["ticks"] > 100
