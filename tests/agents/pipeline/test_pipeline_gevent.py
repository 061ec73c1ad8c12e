"""PipelineSession under gevent monkey patching (SDK over patched sockets), against the fake."""
from __future__ import annotations

import pytest

from agents import speech
from tests.support.processes import last_json_line, run_python

DRIVER = r"""
from gevent import monkey; monkey.patch_all()
import json
from agents import audio, speech
from agents.base import AgentProfile
from agents.pipeline import PipelineSession
from tests.fakes.openai_http import FakeOpenAI
from tests.support.gevent_turn import drive_turn
fake = FakeOpenAI().start()
fake.transcripts = ["What are your opening hours?"]; fake.replies = [{"text": "Nine to five."}]
fake.speech_pcm = b"\x00\x10" * 12000
settings = {"OPENAI_API_KEY": "sk-fake", "OPENAI_BASE_URL": fake.url}
session = PipelineSession(AgentProfile(), settings)
ulaw = speech.synthesize_ulaw("What are your opening hours?") + audio.ULAW_SILENCE * 8000
report = drive_turn(session, ulaw)
fake.stop()
print(json.dumps(report))
"""


@pytest.mark.slow
@pytest.mark.skipif(not speech.available(), reason="espeak-ng not installed")
def test_pipeline_turn_under_gevent():
    report = last_json_line(run_python("-c", DRIVER, timeout=90))
    assert report["status"] == "completed"
    assert report["texts"][-2:] == ["What are your opening hours?", "Nine to five."]
    assert report["audio_ms"] == 500  # the fake's 24 kHz speech, resampled to 8 kHz
