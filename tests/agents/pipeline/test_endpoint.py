"""Endpointer (webrtcvad) and the reply helpers, without sockets or clocks."""
from __future__ import annotations

from agents import audio, speech
from agents.pipeline.endpoint import Endpointer, SpeechBegan, SpeechEnded
from agents.pipeline.speaker import Framer, cut_sentences, truncate_text


def feed_all(endpointer, ulaw, size):
    events = []
    for i in range(0, len(ulaw), size):
        events += endpointer.feed(ulaw[i : i + size])
    return events


def test_silence_never_starts_speech():
    endpointer = Endpointer()
    assert endpointer.feed(audio.ULAW_SILENCE * 16000) == []
    assert endpointer.position_ms == 2000


def test_one_utterance_has_bounds_and_pcm_independent_of_chunking():
    spoken = speech.synthesize_ulaw("What are your opening hours?")
    ulaw = audio.ULAW_SILENCE * 4000 + spoken + audio.ULAW_SILENCE * 8000
    results = [feed_all(Endpointer(), ulaw, size) for size in (160, 77, 4000)]
    assert results[0] == results[1] == results[2]
    began, ended = results[0]
    assert isinstance(began, SpeechBegan) and isinstance(ended, SpeechEnded)
    speech_ms = audio.ulaw_ms(spoken)
    assert 300 <= began.ms <= 700  # speech starts right after 500 ms of silence
    assert abs(ended.end_ms - (500 + speech_ms)) <= 300
    assert len(ended.pcm) // 16 >= ended.end_ms - ended.start_ms  # PCM covers the utterance


def test_long_speech_is_cut_at_the_maximum():
    spoken = speech.synthesize_ulaw("one two three four five six seven eight nine ten " * 2)
    events = Endpointer(max_ms=1000).feed(spoken)
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    assert ends and all(len(e.pcm) <= 1000 * 16 for e in ends)


def test_cut_sentences_keeps_the_unfinished_tail():
    assert cut_sentences("Hello there. How are") == (["Hello there."], "How are")
    assert cut_sentences("No end yet") == ([], "No end yet")
    assert cut_sentences("Pi is 3.14 exactly. Ok") == (["Pi is 3.14 exactly."], "Ok")
    long = "word " * 30 + ", and more"
    sentences, rest = cut_sentences(long)
    assert sentences and rest == "and more"


def test_framer_emits_whole_frames_and_pads_the_end():
    framer = Framer()
    assert framer.push(b"\x01" * 100) == b""
    assert len(framer.push(b"\x01" * 300)) == 320
    tail = framer.flush()
    assert len(tail) == 160 and tail.endswith(audio.ULAW_SILENCE * 80)
    assert framer.sent_bytes == 480 and framer.flush() == b""


def test_truncate_text_by_heard_share():
    assert truncate_text("a b c d", 500, 1000) == "a b..."
    assert truncate_text("a b c d", 1500, 1000) == "a b c d"
    assert truncate_text("a b c d", -5, 1000) == "..."


def test_trim_history_keeps_the_system_prompt_and_whole_tool_exchanges():
    from agents.pipeline.history import trim_history

    history = [{"role": "system", "content": "s"}]
    for i in range(30):
        history += [{"role": "user", "content": f"u{i}"},
                    {"role": "assistant", "content": None, "tool_calls": [{"id": f"c{i}"}]},
                    {"role": "tool", "tool_call_id": f"c{i}", "content": "{}"}]
    trimmed = trim_history(history, keep=40)
    assert trimmed[0]["role"] == "system" and trimmed[1]["role"] == "user"
    assert len(trimmed) <= 41 and trimmed[-1] == history[-1]
    assert trim_history(history[:5]) == history[:5]


def test_take_speech_hands_out_the_utterance_while_it_is_spoken():
    spoken = speech.synthesize_ulaw("What are your opening hours?")
    endpointer, streamed, ended = Endpointer(), b"", None
    for i in range(0, len(spoken + audio.ULAW_SILENCE * 8000), 160):
        for event in endpointer.feed((spoken + audio.ULAW_SILENCE * 8000)[i : i + 160]):
            if isinstance(event, SpeechEnded):
                ended = event
                streamed += event.rest
        streamed += endpointer.take_speech()
        if ended is None and endpointer.in_speech:
            assert streamed  # audio is available before the caller has finished
    assert ended is not None and streamed[: len(ended.pcm)] == ended.pcm
    assert endpointer.take_speech() == b""
