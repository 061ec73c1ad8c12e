"""The live bridge stores what the AI said (transcript lines) and its turn metrics."""
from __future__ import annotations

from media_harness import ai_leg_in_room

from twilio_sim.testing import wait_for

CALL = "CA" + "5" * 32


def test_ai_transcript_lines_and_turn_metrics_are_stored(media_server):
    server = media_server(AI_BACKEND="narrator")
    client = ai_leg_in_room(server, CALL, 25)
    lines = wait_for(lambda: server.rows(
        "SELECT speaker, role, source, text, conference_id FROM transcript_entry"))
    # Only the AI's final line: the caller's line and the partial are not the AI's record.
    assert [tuple(r) for r in lines] == [("ai", "ai", "ai", "Welcome to Forkline.", 1)]
    metrics = wait_for(lambda: server.rows(
        "SELECT backend, stt_ms, llm_first_token_ms, tts_first_audio_ms,"
                " end_to_end_ms, conference_id FROM turn_metric"))
    assert [tuple(r) for r in metrics] == [("narrator", 11.0, 22.0, 33.0, 44.0, 1)]
    # The AI's audio still played: recording happens beside the audio path, not instead of it.
    spoken = (b"\x10" * 160, b"\x11" * 160)
    assert wait_for(lambda: client.playout_frame() in spoken)
    client.stop()
    assert server.alive()
