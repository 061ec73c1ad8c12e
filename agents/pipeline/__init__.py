"""The sidecar STT -> LLM -> TTS backend."""
from agents.pipeline.session import PipelineSession

__all__ = ["PipelineSession"]
