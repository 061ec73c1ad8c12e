"""PipelineSession under gevent monkey patching (SDK over patched sockets), against the fake."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agents import speech

ROOT = Path(__file__).resolve().parents[3]
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
    result = subprocess.run([sys.executable, "-c", DRIVER], cwd=ROOT, capture_output=True,
                            text=True, timeout=90)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == "completed"
    assert report["texts"][-2:] == ["What are your opening hours?", "Nine to five."]
    assert report["audio_ms"] == 500  # the fake's 24 kHz speech, resampled to 8 kHz
