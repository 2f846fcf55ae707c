"""The clock every time-dependent decision reads (replaceable in tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)
