"""GET / in real Chromium: the status page lists calls, conferences and streams."""
from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from twilio_sim.testing import sdk_client, wait_for

pytestmark = pytest.mark.slow
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update"]


def test_status_page_in_chromium(sim_server, media_server):
    client = sdk_client(sim_server.base_url, sim_server.account_sid, sim_server.auth_token)
    part = client.conferences("page-room").participants.create(
        from_="+15550400000", to="+15550400001", label="page")
    wait_for(lambda: client.calls(part.call_sid).fetch().status == "in-progress", 10)
    client.calls(part.call_sid).streams.create(url=media_server.url("/page"), name="page-fork")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            response = page.goto(sim_server.base_url + "/")
            assert response.status == 200
            assert page.title() == "Twilio simulator"
            calls = page.locator("#calls tr", has_text=part.call_sid)
            assert calls.count() == 1 and "in-progress" in calls.inner_text()
            conf = page.locator("#conferences tr", has_text="page-room")
            assert part.conference_sid in conf.inner_text()
            assert "page-fork" in page.locator("#streams").inner_text()
            assert sim_server.account_sid in page.locator("#summary").inner_text()
        finally:
            browser.close()
    client.calls(part.call_sid).update(status="completed")
