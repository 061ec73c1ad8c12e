"""Whisper and barge from a page on another host: two Procfile gunicorn servers share PostgreSQL
and Redis; Twilio (the strict simulator) talks only to server A, so the browser leg's
`<Connect><Stream>` lands there, while the supervisor's page (and its socket) is on server B.
The conference audio reaches B and Chromium's fake microphone (a 1.4 kHz tone) reaches A's
stream through the Redis relay, which carries them only while the two ends are apart.
"""
from __future__ import annotations

import pytest
import redis
import requests
from playwright.sync_api import expect
from prometheus_client.parser import text_string_to_metric_families
from support.console import PASSWORD
from support.mic import ABSENT, TIMEOUT, Room, listen_muted, room_page

from conference.media.relay import WANT
from twilio_sim.testing import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
EMAIL = "sup@e2e.test"  # the relay stack's supervisor


def wants(store, room: Room, label: str) -> dict[str, int]:
    """Unexpired want entries of the browser leg's two relayed taps (leg audio, microphone)."""
    return {kind: store.zcard(key) for kind in ("sup", "mic")
            for key in store.keys(f"{WANT}{kind}:*:{room.name}:{label}")}


def supervisor_streams(base: str) -> float:
    """Open browser-supervisor media sockets on the server at `base` (its /metrics)."""
    text = requests.get(base + "/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "forkline_media_streams_open" and s.labels.get("kind") == "supervisor")


def test_whisper_and_barge_from_a_page_on_the_other_host(relay_stack, mic_chromium):
    live = relay_stack
    a, b = live.servers["forkline"], live.servers["forkline-b"]
    store = redis.Redis.from_url(live.stack.env["REDIS_URL"])
    room = Room(live, "e2e-mic-relay", "+15550304001", "+15550304002")
    with room_page(mic_chromium, b, room, EMAIL, PASSWORD, microphone=True) as page:
        indicator = page.locator("#mic-indicator")
        # `connected` (the indicator's "listening") comes from A's stream, over the signal bus.
        leg = listen_muted(page, room)
        # The App's Voice URL is A's, so the leg's TwiML and stream are too.
        assert (supervisor_streams(a), supervisor_streams(b)) == (1.0, 0.0)
        # B wants the leg's audio, A wants the microphone: the ends are apart.
        wait_for(lambda: wants(store, room, leg["label"]) == {"sup": 1, "mic": 1}, TIMEOUT,
                 0.05, "both relayed taps to be wanted")

        # Whisper: only the agent hears the microphone.
        page.keyboard.press("w")
        expect(indicator).to_have_text("your microphone to agent only (whispering)",
                                       timeout=TIMEOUT * 1000)
        member = room.sim_member(leg["call_sid"])
        assert (member.muted, member.coaching) == (False, True)
        at = {label: room.frames(label) for label in room.phones}
        room.wait_tone("agent", at["agent"], 50,
                       "the agent to hear the whisper (from B's page through A's stream)")
        room.wait_heard("customer", at["customer"] + 100)
        assert max(room.levels("customer")[at["customer"]:]) < ABSENT, \
            "the whisper leaked to the customer"
        # The page hears the conference too: audio from A's stream reached B's socket.
        assert page.evaluate("window.forklineSupervisor.heard") > 0

        # Barge (after the confirmation): both phones hear it.
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Barge (B)").click()
        expect(indicator).to_have_text("your microphone to everyone (LIVE)",
                                       timeout=TIMEOUT * 1000)
        at = {label: room.frames(label) for label in room.phones}
        for label in room.phones:
            room.wait_tone(label, at[label], 50, f"the {label} to hear the barge")

        # Closing the page takes the leg out, and both relayed taps stop being carried.
        page.close()
        room.until(lambda d: room.browser_leg(d).get("status") == "left",
                   "Forkline to mark the browser leg left")
        wait_for(lambda: set(wants(store, room, leg["label"]).values()) <= {0}, TIMEOUT, 0.05,
                 "both ends to withdraw from the relay")
