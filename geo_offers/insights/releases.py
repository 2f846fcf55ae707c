"""Insight releases: true counts in, k-suppressed and noised figures out, each release logged.

Only closed periods are published (days and weeks that ended at least ``insights_settle_s`` ago), so a
figure's true count no longer changes once it is shown and its deterministic noise can never be cancelled
against a later answer about the same period. See docs/insights.md for the reasoning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from consent.errors import Forbidden, InvalidInput
from geo_offers.insights import repository as insights_repo
from geo_offers.insights.counter import ACTIVITY_RES
from geo_offers.insights.models import KINDS
from geo_offers.insights.privacy import MECHANISM, Figure, Publisher
from geo_offers.insights.schemas import (
    ActivityHour,
    ActivityInsights,
    DayRow,
    DealInsights,
    FigureOut,
    Growth,
    GrowthOut,
    HourRow,
    HoursOfWeek,
    PrivacyParams,
    TypeFigures,
    WeekRow,
)
from geo_offers.places.cells import cell_str, descendant_range, resolution
from geo_offers.settings import Settings
from geo_offers.tenants.auth import Principal

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UNIT = "one counted event (a person who asks n times contributes n events)"


@dataclass(frozen=True, slots=True)
class Release:
    """What a release needs: the publisher, the release epsilon, and who asks when."""

    publisher: Publisher
    epsilon: float
    principal: Principal
    now: datetime
    settle: timedelta
    weeks: int

    @classmethod
    def of(cls, settings: Settings, key: bytes, principal: Principal, now: datetime) -> Release:
        """A release with the configured parameters."""
        publisher = Publisher(key, settings.k_anonymity)
        settle = timedelta(seconds=settings.insights_settle_s)
        return cls(publisher, settings.dp_epsilon, principal, now, settle, settings.insights_weeks)

    @property
    def settled(self) -> datetime:
        """Periods that ended before this time are closed."""
        return self.now - self.settle

    def week_window(self) -> tuple[datetime, datetime]:
        """The last ``weeks`` complete UTC weeks (Monday 0:00 to Monday 0:00) before ``settled``."""
        today = self.settled.astimezone(UTC).date()
        end = datetime.combine(today - timedelta(days=today.weekday()), time(), UTC)
        return end - timedelta(weeks=self.weeks), end

    def params(self, per_figure: dict[str, float]) -> PrivacyParams:
        """The parameters stated in every answer."""
        return PrivacyParams(
            mechanism=MECHANISM,
            epsilon=self.epsilon,
            epsilon_per_figure=per_figure,
            sensitivity=1,
            k=self.publisher.k,
            unit=UNIT,
            deterministic=True,
            data_until=self.settled,
        )

    def log(self, session: Session, figure: str, figures: list[Figure]) -> None:
        """Write this release to the privacy-budget log."""
        insights_repo.log_release(
            session,
            key_id=self.principal.key_id,
            merchant_id=self.principal.merchant_id,
            figure=figure,
            mechanism=MECHANISM,
            epsilon=self.epsilon,
            k=self.publisher.k,
            figures=len(figures),
            suppressed=sum(f.suppressed for f in figures),
            now=self.now,
        )


def _out(figure: Figure) -> FigureOut:
    return FigureOut(count=figure.count, suppressed=figure.suppressed)


def _kinds(figures: dict[str, Figure]) -> TypeFigures:
    return TypeFigures(**{kind: _out(figures[kind]) for kind in KINDS})


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tz).astimezone(UTC)


def _growth(first: Figure, second: Figure) -> GrowthOut:
    if first.count is None or second.count is None or first.count == 0:
        return GrowthOut(percent=None, suppressed=True)
    return GrowthOut(percent=round((second.count - first.count) / first.count * 100, 1), suppressed=False)


def deal_insights(
    session: Session, release: Release, deal_id: int, days: int, reads: Session | None = None
) -> DealInsights:
    """Per day, per week (growth) and per hour of week, of the merchant's own deal (404 for others').

    Ownership is checked and the release logged in ``session`` (the primary); the counters are read from
    ``reads`` (the read database) when given.
    """
    counters = reads if reads is not None else session
    assert release.principal.merchant_id is not None
    place = insights_repo.own_deal(session, release.principal.merchant_id, deal_id)
    tz = ZoneInfo(place.timezone)
    pub, eps = release.publisher, release.epsilon / 2  # days and hours of week overlap: half the budget each
    last = release.settled.astimezone(tz).date() - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    second_week_end = last - timedelta(days=(last.weekday() + 1) % 7)
    week_starts = (second_week_end - timedelta(days=13), second_week_end - timedelta(days=6))
    span_first = min(first, week_starts[0])
    true_days = insights_repo.day_counts(
        counters,
        deal_id,
        place.timezone,
        span_first,
        last,
        _midnight(span_first, tz),
        _midnight(last + timedelta(1), tz),
    )
    noisy: dict[tuple[date, str], int] = {}
    published: list[Figure] = []
    day_rows: list[DayRow] = []
    for offset in range((last - span_first).days + 1):
        day = span_first + timedelta(days=offset)
        figures: dict[str, Figure] = {}
        for kind in KINDS:
            true = true_days.get((day, kind), 0)
            noisy[(day, kind)] = pub.noisy(true, f"deal {deal_id} {kind} on {day} ({place.timezone})", eps)
            figures[kind] = pub.publish(true, noisy[(day, kind)])
        if day >= first:
            day_rows.append(DayRow(day=day, counts=_kinds(figures)))
            published.extend(figures.values())
    # Weekly totals are sums of the noised days: post-processing, no further budget.
    week_rows: list[WeekRow] = []
    weekly: list[dict[str, Figure]] = []
    for start in week_starts:
        week_days = [start + timedelta(days=i) for i in range(7)]
        totals = {
            kind: pub.publish(
                sum(true_days.get((d, kind), 0) for d in week_days), sum(noisy[(d, kind)] for d in week_days)
            )
            for kind in KINDS
        }
        weekly.append(totals)
        published.extend(totals.values())
        week_rows.append(WeekRow(week_start=start, week_end=week_days[-1], counts=_kinds(totals)))
    growth = Growth(**{kind: _growth(weekly[0][kind], weekly[1][kind]) for kind in KINDS})
    since, until = release.week_window()
    true_hours = insights_repo.deal_hour_counts(counters, deal_id, place.timezone, since, until)
    hour_rows: list[HourRow] = []
    for how in range(168):
        figures = {
            kind: pub.figure(
                true_hours.get((how, kind), 0),
                f"deal {deal_id} {kind} at hour {how} of {since.date()}..{until.date()} ({place.timezone})",
                eps,
            )
            for kind in KINDS
        }
        published.extend(figures.values())
        hour_rows.append(HourRow(hour_of_week=how, weekday=WEEKDAYS[how // 24], hour=how % 24, counts=_kinds(figures)))
    release.log(
        session,
        f"deal {deal_id}: daily counts {first}..{last}, weekly totals {week_starts[0]}..{second_week_end}, "
        f"hour-of-week counts {since.date()}..{until.date()} ({place.timezone})",
        published,
    )
    return DealInsights(
        deal_id=deal_id,
        timezone=place.timezone,
        privacy=release.params({"days": eps, "hours_of_week": eps, "weeks": 0.0}),
        days=day_rows,
        weeks=week_rows,
        growth_week_over_week=growth,
        hours_of_week=HoursOfWeek(since=since, until=until, hours=hour_rows),
    )


def activity_insights(
    session: Session, release: Release, cell: int, coarsest_res: int, reads: Session | None = None
) -> ActivityInsights:
    """Match requests per local hour of week in a cell at or next to one of the merchant's stores (counters
    from ``reads`` when given, as in ``deal_insights``)."""
    res = resolution(cell)
    if res > ACTIVITY_RES:
        raise InvalidInput(f"activity is counted in resolution-{ACTIVITY_RES} cells; send that cell or a coarser one")
    if res < coarsest_res:
        raise InvalidInput(f"cells coarser than resolution {coarsest_res} are not taken; send a finer cell")
    assert release.principal.merchant_id is not None
    timezone = insights_repo.store_near(session, release.principal.merchant_id, cell)
    if timezone is None:
        raise Forbidden("activity is shown only for cells that hold or border one of your stores")
    since, until = release.week_window()
    low, high = descendant_range(cell, ACTIVITY_RES)
    true_hours = insights_repo.activity_hour_counts(
        reads if reads is not None else session, low, high, timezone, since.date(), until.date()
    )
    name = cell_str(cell)
    pub = release.publisher
    hours: list[ActivityHour] = []
    published: list[Figure] = []
    for how in range(168):
        described = f"activity {name} at hour {how} of {since.date()}..{until.date()} ({timezone})"
        figure = pub.figure(true_hours.get(how, 0), described, release.epsilon)
        published.append(figure)
        hours.append(ActivityHour(hour_of_week=how, weekday=WEEKDAYS[how // 24], hour=how % 24, requests=_out(figure)))
    release.log(
        session, f"activity in cell {name}: hour-of-week counts {since.date()}..{until.date()} ({timezone})", published
    )
    return ActivityInsights(
        cell=name,
        resolution=res,
        timezone=timezone,
        privacy=release.params({"hours_of_week": release.epsilon}),
        since=since,
        until=until,
        hours=hours,
    )
