"""Structured logging: one JSON line per event, carrying conference, call and stream ids."""
from __future__ import annotations

import json
import logging
import sys
import time

# Keys that may be attached with `extra=` and are copied into the JSON line.
CONTEXT_KEYS = ("conference", "tenant", "call_sid", "stream_sid", "label", "event", "backend")


class JsonFormatter(logging.Formatter):
    """Render a record as a single JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str = "INFO", others: tuple[str, ...] = ()) -> None:
    """Send the forkline loggers (and `others`, e.g. Flask's app logger) to stderr as JSON lines.

    JSON escapes control characters, so a request path with %0A cannot start a fake line.
    """
    root = logging.getLogger("forkline")
    root.setLevel(level.upper())
    for name in ("forkline", *others):
        logger = logging.getLogger(name)
        if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(JsonFormatter())
            logger.addHandler(handler)
    root.propagate = True


def get_logger(name: str) -> logging.Logger:
    """A logger under the `forkline` namespace."""
    return logging.getLogger("forkline." + name)


class Sampler:
    """Let through 1 in `every` events per key, so frame-level logs stay cheap."""

    def __init__(self, every: int = 200) -> None:
        self.every = every
        self._counts: dict[str, int] = {}

    def should_log(self, key: str) -> bool:
        """True for the 1st, (every+1)th, ... occurrence of `key`."""
        count = self._counts.get(key, 0)
        self._counts[key] = count + 1
        return count % self.every == 0


def monotonic_ms() -> float:
    """Milliseconds from a monotonic clock (for the I/O shells, never the sans-I/O cores)."""
    return time.monotonic() * 1000.0
