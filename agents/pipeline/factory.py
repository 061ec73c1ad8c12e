"""Stage factories: the one place that picks OpenAI (with a key) or the offline stages.

The pipeline session builds its stages here, and so do callers outside `agents` that need
speech recognition (fork transcripts) or a summary, so they never reach into a stage module.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.base import AgentProfile
from agents.pipeline.offline import EspeakTTS, profile_corpus
from agents.pipeline.pooled import PooledSphinxSTT
from agents.pipeline.rules import RuleResponder


def offline_stages(profile: AgentProfile) -> tuple[PooledSphinxSTT, RuleResponder, EspeakTTS]:
    """pocketsphinx biased to the profile (decoded in the CPU pool), rules, and espeak-ng."""
    # The caller's own turn waits for a pool slot (in the session's worker, never the hub).
    stt = PooledSphinxSTT(profile_corpus(profile), kind="agent_stt", block=True)
    return stt, RuleResponder(profile), EspeakTTS()


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
    # Decoded in the worker's CPU pool; a full pool skips the utterance (counted).
    return PooledSphinxSTT(profile_corpus(profile) if profile else None, kind="fork_stt")


def summarize_text(instructions: str, text: str, settings: Mapping[str, Any]) -> str:
    """`text` summarized by the configured chat model (raises on any API failure or no key)."""
    if not settings.get("OPENAI_API_KEY"):
        raise LookupError("no language model is configured")
    from agents.pipeline.openai_stages import CHAT_MODEL, make_client

    reply = make_client(settings).chat.completions.create(
        model=settings.get("PIPELINE_CHAT_MODEL") or CHAT_MODEL,
        messages=[{"role": "system", "content": instructions}, {"role": "user", "content": text}])
    return (reply.choices[0].message.content or "").strip()
