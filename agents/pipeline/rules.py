"""The offline "LLM": keyword intents plus the profile's FAQ, answered by word overlap."""
from __future__ import annotations

import itertools
from collections.abc import Iterator

from agents.base import AgentProfile
from agents.pipeline.offline import words
from agents.pipeline.stages import ToolRequest

_STOP = """a an and are at be can could do does for from have how i if in is it me my of on or
please the there to want what when where which who why will with would you your"""
STOPWORDS = frozenset(_STOP.split())
HUMAN_WORDS = frozenset({"human", "person", "agent", "representative", "operator", "someone"})
BYE_WORDS = frozenset({"bye", "goodbye"})
HELLO_WORDS = frozenset({"hello", "hi", "hey"})
_ids = itertools.count(1)


def stem(word: str) -> str:
    """A crude stem so 'hours'~'hour' and 'opening'~'open' match."""
    for suffix in ("ing", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content(text: str) -> set[str]:
    """Stemmed content words of `text`."""
    return {stem(w) for w in words(text) if w not in STOPWORDS}


class RuleResponder:
    """Answers from the profile: human -> transfer tool, bye -> end_call, FAQ by overlap.

    Anything else gets no reply at all, so the AI does not talk over a human conversation.
    """

    def __init__(self, profile: AgentProfile) -> None:
        self.profile = profile
        self._faq = [(content(q), a) for q, a in profile.faq]

    def respond(self, messages: list[dict]) -> Iterator[str | ToolRequest]:
        """Yield the reply to the last user (or tool) message, a few words at a time."""
        last = messages[-1] if messages else {"role": "user", "content": ""}
        if last["role"] == "tool":
            reply = "One moment please, I am connecting you." if "transfer" in str(
                last.get("name", "")
            ) else ""
            yield from _chunks(reply)
            return
        heard = set(words(last.get("content") or ""))
        if heard & HUMAN_WORDS and "transfer_to_human" in self.profile.tools:
            yield ToolRequest(f"call_{next(_ids)}", "transfer_to_human",
                              '{"reason": "The caller asked for a human."}')
            return
        answer = self.best_answer(content(last.get("content") or ""))
        if answer is None and heard & BYE_WORDS:
            yield from _chunks("Thank you for calling. Goodbye!")
            if "end_call" in self.profile.tools:
                yield ToolRequest(f"call_{next(_ids)}", "end_call", "{}")
            return
        if answer is None and heard & HELLO_WORDS:
            answer = self.profile.greeting or "Hello! How can I help you?"
        # Nothing for the AI: in a conference most speech is meant for the other humans.
        yield from _chunks(answer or "")

    def best_answer(self, heard: set[str]) -> str | None:
        """The FAQ answer whose question shares the most content words (at least one)."""
        best, score = None, 0
        for question, answer in self._faq:
            overlap = len(question & heard)
            if overlap > score:
                best, score = answer, overlap
        return best


def _chunks(text: str) -> Iterator[str]:
    # Stream word by word so the session's sentence splitter is exercised as with a real LLM.
    for i, word in enumerate(text.split()):
        yield word if i == 0 else " " + word
