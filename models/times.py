"""Named column defaults for timestamps."""
from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Timezone-aware now in UTC (the default for every timestamp column)."""
    return datetime.now(UTC)
