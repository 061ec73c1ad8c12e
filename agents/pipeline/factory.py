"""Stage factories: the one place that picks OpenAI (with a key) or the offline stages.

The pipeline session builds its stages here, and so do callers outside `agents` that need
speech recognition (fork transcripts) or a summary, so they never reach into a stage module.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.base import AgentProfile
from agents.pipeline.offline import EspeakTTS, SphinxSTT, profile_corpus
from agents.pipeline.rules import RuleResponder


def offline_stages(profile: AgentProfile) -> tuple[SphinxSTT, RuleResponder, EspeakTTS]:
    """pocketsphinx biased to the profile, the rule responder, and espeak-ng."""
    return SphinxSTT(profile_corpus(profile)), RuleResponder(profile), EspeakTTS()


def stages(profile: AgentProfile, settings: Mapping[str, Any]) -> tuple:
    """(stt, responder, tts): OpenAI with OPENAI_API_KEY, else the offline ones."""
    if settings.get("OPENAI_API_KEY"):
        from agents.pipeline.openai_stages import build

        return build(profile, settings)
    return offline_stages(profile)


def transcriber(settings: Mapping[str, Any], profile: AgentProfile | None = None):
    """A fresh recognizer (`transcribe(pcm) -> [(text, ...)]`): OpenAI with a key, else sphinx.

    Offline recognition is far better biased to `profile`'s domain vocabulary.
    """
    if settings.get("OPENAI_API_KEY"):
        from agents.pipeline.openai_stages import OpenAISTT, make_client

        return OpenAISTT(make_client(settings))
    return SphinxSTT(profile_corpus(profile) if profile else None)


def summarize_text(instructions: str, text: str, settings: Mapping[str, Any]) -> str:
    """`text` summarized by the configured chat model (raises on any API failure or no key)."""
    if not settings.get("OPENAI_API_KEY"):
        raise LookupError("no language model is configured")
    from agents.pipeline.openai_stages import CHAT_MODEL, make_client

    reply = make_client(settings).chat.completions.create(
        model=settings.get("PIPELINE_CHAT_MODEL") or CHAT_MODEL,
        messages=[{"role": "system", "content": instructions}, {"role": "user", "content": text}])
    return (reply.choices[0].message.content or "").strip()
