"""Suggested weekly windows for a store: post-processing of the published hour-of-week activity figures.

The suggestion reads nothing but the figures that ``GET /v1/insights/activity`` publishes for the store's cell:
the same release (same figures, same fixed noise, logged like every activity release), so it adds no privacy
cost of its own; a function of released figures reveals nothing more than they do. True counts are never
looked at here.

A suppressed hour is known only not to reach the publication threshold. It therefore ranks below every published
hour (each published one rests on at least k people) and is never read as zero or as any other number. The
windows are the runs of consecutive published hours whose count reaches half of the busiest hour's, ranked by
their summed count. How sure the suggestion is follows from the noise: a window whose average count stands several noise
standard deviations above the threshold would have been chosen without the noise as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from geo_offers.insights.privacy import noise_scale
from geo_offers.insights.schemas import ActivityInsights, SuggestedWindow, SuggestedWindows, SuggestionBasis
from geo_offers.places.schedule import DAYS

HOURS = 168
#: An hour belongs to a window when its count reaches this share of the busiest hour's count.
SHARE_OF_BUSIEST = 0.5
#: Below this many published hours the suggestion rests on too little to be more than "low".
FEW_PUBLISHED = 6
HIGH_Z, MEDIUM_Z = 3.0, 1.5


def noise_sd(epsilon: float, sensitivity: int = 1) -> float:
    """Standard deviation of two-sided geometric noise at ``epsilon`` for figures of that sensitivity."""
    alpha = math.exp(-noise_scale(epsilon, sensitivity))
    return math.sqrt(2 * alpha) / (1 - alpha)


def _runs(active: list[bool]) -> list[list[int]]:
    """Runs of consecutive active hours of the week; a run may wrap from Sunday night into Monday."""
    if all(active):
        return [list(range(HOURS))]
    start = next(h for h in range(HOURS) if not active[h])  # begin after an inactive hour: no run is cut
    runs: list[list[int]] = []
    current: list[int] = []
    for step in range(1, HOURS + 1):
        hour = (start + step) % HOURS
        if active[hour]:
            current.append(hour)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _clock(hour: int) -> str:
    return f"{hour:02d}:00"


def windows_of(run: list[int]) -> list[dict[str, object]]:
    """Deal windows (``{"days", "start", "end"}``) covering a run of hours of the week.

    A run shorter than a day is one window, which may cross midnight; a longer one is cut at each midnight.
    """
    first = run[0]
    if len(run) < 24:
        end = (first % 24 + len(run)) % 24
        end_text = "24:00" if end == 0 else _clock(end)
        return [{"days": [DAYS[first // 24]], "start": _clock(first % 24), "end": end_text}]
    windows: list[dict[str, object]] = []
    piece = [first]
    for hour in run[1:]:
        if hour % 24 == 0:
            windows.append(_piece(piece))
            piece = []
        piece.append(hour)
    windows.append(_piece(piece))
    return windows


def _piece(hours: list[int]) -> dict[str, object]:
    last = hours[-1] % 24 + 1
    return {"days": [DAYS[hours[0] // 24]], "start": _clock(hours[0] % 24), "end": _clock(last)}


def _confidence(z: float) -> str:
    return "high" if z >= HIGH_Z else "medium" if z >= MEDIUM_Z else "low"


@dataclass(frozen=True, slots=True)
class _Candidate:
    hours: list[int]
    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)


def suggest(activity: ActivityInsights, store_id: int, limit: int) -> SuggestedWindows:
    """The ``limit`` busiest weekly windows of an activity release, with what they rest on and how sure they are."""
    counts: list[int | None] = [None] * HOURS
    for row in activity.hours:
        counts[row.hour_of_week] = None if row.requests.suppressed else row.requests.count
    published = [c for c in counts if c is not None]
    k = activity.privacy.threshold  # the least any published figure shows
    sd = noise_sd(activity.privacy.epsilon, activity.privacy.sensitivity)
    busiest = max(published, default=None)
    threshold = max(k, math.ceil(busiest * SHARE_OF_BUSIEST)) if busiest is not None else None
    candidates: list[_Candidate] = []
    if threshold is not None:
        active = [c is not None and c >= threshold for c in counts]
        for run in _runs(active):
            candidates.append(_Candidate(run, [counts[h] or 0 for h in run]))
    candidates.sort(key=lambda c: (-c.total, c.hours[0]))
    windows: list[SuggestedWindow] = []
    for candidate in candidates[:limit]:
        assert threshold is not None
        n = len(candidate.hours)
        z = (candidate.total / n - threshold) / (sd / math.sqrt(n))
        confidence = _confidence(z)
        if len(published) < FEW_PUBLISHED:
            confidence = "low"
        windows.append(
            SuggestedWindow(
                windows=windows_of(candidate.hours),
                hours_of_week=candidate.hours,
                requests=candidate.total,
                mean_requests=round(candidate.total / n, 1),
                margin_sd=round(z, 1),
                confidence=confidence,
            )
        )
    # The busiest window leads the suggestion, so its confidence is the suggestion's.
    overall = windows[0].confidence if windows else "none"
    basis = SuggestionBasis(
        figures=f"activity in cell {activity.cell}: hour-of-week counts "
        f"{activity.since.date()}..{activity.until.date()} ({activity.timezone})",
        cell=activity.cell,
        resolution=activity.resolution,
        since=activity.since,
        until=activity.until,
        hours_published=len(published),
        hours_suppressed=HOURS - len(published),
        busiest_requests=busiest,
        threshold=threshold,
        noise_sd=round(sd, 2),
        hours=activity.hours,
    )
    return SuggestedWindows(
        store_id=store_id,
        timezone=activity.timezone,
        windows=windows,
        confidence=overall,
        rests_on=basis,
        privacy=activity.privacy,
        additional_epsilon=0.0,
    )
