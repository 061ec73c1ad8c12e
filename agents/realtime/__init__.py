"""OpenAI Realtime backend: sans-I/O protocol core plus an SDK-driven I/O shell."""
from agents.realtime.session import RealtimeSession

__all__ = ["RealtimeSession"]
