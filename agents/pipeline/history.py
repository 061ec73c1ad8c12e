"""Conversation history helpers: the system prompt, trimming, and merging cut utterances."""
from __future__ import annotations

from agents.base import AgentProfile
from agents.pipeline.stages import Utterance

MAX_HISTORY = 40  # messages kept besides the system prompt


def trim_history(history: list[dict], keep: int = MAX_HISTORY) -> list[dict]:
    """The system prompt plus about the last `keep` messages, cut at a user message so a tool
    result never loses the assistant message that asked for it."""
    if len(history) <= keep + 1:
        return history
    tail = history[-keep:]
    first_user = next((i for i, m in enumerate(tail) if m["role"] == "user"), len(tail))
    return history[:1] + tail[first_user:]


def merge(first: Utterance, second: Utterance) -> Utterance:
    """One utterance of two consecutive ones (the first was cut short by a pause)."""
    return Utterance(first.pcm + second.pcm, first.start_ms, second.end_ms, second.ended_at)


def system_prompt(profile: AgentProfile) -> str:
    """The profile's instructions plus its FAQ as reference material."""
    if not profile.faq:
        return profile.instructions
    faq = "\n".join(f"Q: {q}\nA: {a}" for q, a in profile.faq)
    return f"{profile.instructions}\n\nAnswer from this FAQ when it applies:\n{faq}"
