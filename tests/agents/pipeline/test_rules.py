"""The offline responder: FAQ by word overlap, intents to tools, silence when not addressed."""
from __future__ import annotations

from agents.base import AgentProfile
from agents.local import DEFAULT_FAQ
from agents.pipeline.rules import RuleResponder
from agents.pipeline.stages import ToolRequest

PROFILE = AgentProfile(faq=DEFAULT_FAQ, tools=("transfer_to_human", "end_call"))


def reply(profile, text, role="user", **extra):
    parts = list(RuleResponder(profile).respond([{"role": role, "content": text, **extra}]))
    words = "".join(p for p in parts if isinstance(p, str))
    return words, [p for p in parts if isinstance(p, ToolRequest)]


def test_faq_question_is_matched_by_content_words():
    assert reply(PROFILE, "so when do you open")[0] == DEFAULT_FAQ[0][1]
    assert reply(PROFILE, "where are you located")[0] == DEFAULT_FAQ[1][1]
    assert reply(PROFILE, "how much does the plan cost")[0] == DEFAULT_FAQ[2][1]


def test_unaddressed_speech_gets_no_reply():
    assert reply(PROFILE, "did you see the game last night") == ("", [])


def test_asking_for_a_human_uses_the_transfer_tool_only_when_allowed():
    text, calls = reply(PROFILE, "can i talk to a human")
    assert text == "" and calls[0].name == "transfer_to_human"
    assert reply(AgentProfile(faq=DEFAULT_FAQ), "can i talk to a human")[1] == []


def test_goodbye_says_goodbye_then_ends_the_call():
    text, calls = reply(PROFILE, "thank you goodbye")
    assert "Goodbye" in text and [c.name for c in calls] == ["end_call"]


def test_tool_result_gets_a_spoken_confirmation_for_transfers():
    text, _ = reply(PROFILE, '{"ok": true}', role="tool", name="transfer_to_human",
                    tool_call_id="call_1")
    assert "connecting you" in text
