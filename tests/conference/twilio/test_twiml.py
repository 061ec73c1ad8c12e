"""Every TwiML template renders to well-formed XML with caller values escaped."""
from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest

from conference.twilio.twiml import CONFERENCE_EVENTS, error_twiml, render_twiml

TEMPLATES = Path(__file__).resolve().parents[3] / "twiml_templates"
HOSTILE = '"/><Hangup/><Say x="&amp;<\''
CONTEXT = {
    "stream_name": HOSTILE, "fork_url": "wss://h/twilio/fork?x=1&y=2",
    "ai_stream_url": "wss://h/twilio/ai-stream", "stream_events_url": "https://h/s?a=1&b=2",
    "parameters": {"conference": HOSTILE, "token": "a&b<c>"}, "label": HOSTILE, "beep": False,
    "conference_events_url": "https://h/c", "conference_events": CONFERENCE_EVENTS,
    "conference_name": HOSTILE, "message": HOSTILE, "action_url": HOSTILE,
}
SILENT = ("hangup.xml",)  # no caller values in it at all


def test_there_are_templates():
    assert {p.name for p in TEMPLATES.glob("*.xml")} >= {
        "join_conference.xml", "ai_stream.xml", "error.xml"}


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.xml")))
def test_template_renders_escaped_xml(app, template):
    with app.test_request_context():
        response = render_twiml(template, **CONTEXT)
    assert response.mimetype == "text/xml"
    root = ElementTree.fromstring(response.get_data())
    assert root.tag == "Response"
    # The hostile value survives as data: no extra elements were injected.
    if template in SILENT:
        assert [el.tag for el in root] == ["Hangup"]
        return
    assert all(el.tag != "Hangup" or template == "error.xml" for el in root.iter())
    text = [el.text for el in root.iter() if el.text and el.text.strip()]
    attrs = [v for el in root.iter() for v in el.attrib.values()]
    assert HOSTILE in text + attrs


def test_join_conference_shape(app):
    with app.test_request_context():
        root = ElementTree.fromstring(render_twiml("join_conference.xml", **CONTEXT).get_data())
    params = {p.get("name"): p.get("value") for p in root.findall("./Start/Stream/Parameter")}
    assert params == {"conference": HOSTILE, "token": "a&b<c>"}
    assert root.find("./Start/Stream").get("url") == "wss://h/twilio/fork?x=1&y=2"
    assert root.find("./Dial/Conference").get("beep") == "false"


def test_error_twiml_says_and_hangs_up(app):
    with app.test_request_context():
        root = ElementTree.fromstring(error_twiml("Goodbye & <thanks>").get_data())
    assert [(el.tag, el.text) for el in root] == [("Say", "Goodbye & <thanks>"), ("Hangup", None)]
