"""LocalSession: the pipeline with offline stages only (no keys, no network)."""
from __future__ import annotations

from agents.base import AgentProfile
from agents.pipeline.offline import EspeakTTS, profile_corpus
from agents.pipeline.pooled import PooledSphinxSTT
from agents.pipeline.rules import RuleResponder
from agents.pipeline.session import PipelineSession

# The FAQ the built-in `default` profile starts with, so the demo has something to answer.
DEFAULT_FAQ: tuple[tuple[str, str], ...] = (
    ("What are your opening hours?", "We are open from nine to five, Monday to Friday."),
    ("Where are you located?", "We are located at one Main Street in Springfield."),
    ("How much does it cost?", "The basic plan costs ten dollars a month."),
)


def offline_stages(profile: AgentProfile) -> tuple[PooledSphinxSTT, RuleResponder, EspeakTTS]:
    """pocketsphinx biased to the profile (decoded in the CPU pool), rules, and espeak-ng."""
    # The caller's own turn waits for a pool slot (in the session's worker, never the hub).
    stt = PooledSphinxSTT(profile_corpus(profile), kind="agent_stt", block=True)
    return stt, RuleResponder(profile), EspeakTTS()


class LocalSession(PipelineSession):
    """Really hears (pocketsphinx) and really speaks (espeak-ng), entirely offline."""

    backend = "local"

    def build_stages(self) -> None:
        """Fill missing stages with the offline ones, whatever keys are configured."""
        stt, responder, tts = offline_stages(self.profile)
        self.stt = self.stt or stt
        self.responder = self.responder or responder
        self.tts = self.tts or tts
