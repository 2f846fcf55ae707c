"""Weekly time windows in a store's local time zone: compilation and evaluation.

A window is ``{"days": ["mon", ...], "start": "15:00", "end": "17:30"}`` in the store's IANA zone; a window whose
end is not after its start runs past midnight into the next day. Windows compile to merged intervals of
seconds since Monday 00:00 (local wall time), so evaluating one is a bisection; the week wraps around.
A deal without windows is live at any time of its validity period.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK = 7 * 86_400


def parse_clock(text: str, *, allow_24: bool) -> int:
    """Seconds since midnight of ``HH:MM`` (``24:00`` only where allowed); ValueError otherwise."""
    digits = text[:2] + text[3:]
    if len(text) != 5 or text[2] != ":" or not (digits.isascii() and digits.isdigit()):
        raise ValueError("times are HH:MM")
    hours, minutes = int(text[:2]), int(text[3:])
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise ValueError(f"{text} is not a time of day")
    return hours * 3600 + minutes * 60


@dataclass(frozen=True, slots=True)
class Schedule:
    """Merged weekly intervals ``[start, end)`` in local seconds of the week; empty means always."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    points: tuple[int, ...] = ()  # every start and end, sorted

    @property
    def always(self) -> bool:
        return not self.starts

    def end_if_open(self, second: int) -> int | None:
        """If ``second`` (of the local week) lies in a window, the second its window closes (may be past the
        week's end when the window wraps into Monday), else None."""
        i = bisect.bisect_right(self.starts, second) - 1
        if i < 0 or second >= self.ends[i]:
            return None
        end = self.ends[i]
        if end == WEEK and self.starts[0] == 0 and len(self.starts) > 1:
            end = WEEK + self.ends[0]
        return end

    def next_boundary(self, second: int) -> int:
        """Seconds from ``second`` to the next opening or closing (at most one week)."""
        if self.always:
            return WEEK
        points = self.points
        i = bisect.bisect_right(points, second)
        target = points[i] if i < len(points) else WEEK + points[0]
        return target - second


def compile_windows(windows: Iterable[Mapping[str, object]]) -> Schedule:
    """Merged intervals for a list of windows (assumed validated by the API schema)."""
    spans: list[tuple[int, int]] = []
    for window in windows:
        start = parse_clock(str(window["start"]), allow_24=False)
        end = parse_clock(str(window["end"]), allow_24=True)
        length = end - start if end > start else 86_400 - start + end
        for day in window["days"]:  # type: ignore[attr-defined]
            begin = DAYS.index(day) * 86_400 + start
            finish = begin + length
            if finish <= WEEK:
                spans.append((begin, finish))
            else:  # Sunday night into Monday morning
                spans.append((begin, WEEK))
                spans.append((0, finish - WEEK))
    spans.sort()
    merged: list[list[int]] = []
    for begin, finish in spans:
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], finish)
        else:
            merged.append([begin, finish])
    starts = tuple(s for s, _ in merged)
    ends = tuple(e for _, e in merged)
    return Schedule(starts, ends, tuple(sorted({*starts, *ends})))


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """A cached ZoneInfo."""
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class LocalNow:
    """One instant seen in one time zone."""

    local: datetime
    second_of_week: int

    def to_utc(self, second_of_week: int) -> datetime:
        """The first instant from now on when the local wall clock shows ``second_of_week`` (this week, or the
        next if later); when the clocks spring forward over that time, the instant of the switch."""
        wall = self.local.replace(tzinfo=UTC) + timedelta(seconds=second_of_week - self.second_of_week)
        offset = self.local.utcoffset() or timedelta()
        candidate = wall - offset  # exact while the zone keeps its current UTC offset
        switch = _offset_switch(self.local, candidate)
        if switch is None:
            return candidate
        after = switch.astimezone(self.local.tzinfo).utcoffset() or timedelta()
        return max(switch, wall - after)

    def horizon(self, second_of_week: int) -> datetime:
        """The instant to re-evaluate at: the wall clock reaching ``second_of_week``, or the next switch of the
        zone's UTC offset if that comes first (after it, a wall time may come round again or never come)."""
        target = self.to_utc(second_of_week)
        switch = _offset_switch(self.local, target)
        return target if switch is None else min(target, switch)


def _offset_switch(start: datetime, stop: datetime) -> datetime | None:
    """The first instant in ``(start, stop]`` (to the second) at which the zone of ``start`` changes its UTC
    offset, or None. Zones switch at most twice a year, so one switch within a week is all there can be."""
    zone_info = start.tzinfo
    offset = start.utcoffset()
    low = start.astimezone(UTC)
    high = stop.astimezone(UTC)
    if high <= low or high.astimezone(zone_info).utcoffset() == offset:
        return None
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) // 2
        if middle.astimezone(zone_info).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def local_now(now: datetime, tz_name: str) -> LocalNow:
    """``now`` in the zone ``tz_name`` with its second of the local week."""
    local = now.astimezone(zone(tz_name))
    second = local.weekday() * 86_400 + local.hour * 3600 + local.minute * 60 + local.second
    return LocalNow(local.replace(microsecond=0), second)
