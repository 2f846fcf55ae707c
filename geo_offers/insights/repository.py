"""Queries of the insight reports: true counts (never published as such) and the privacy-budget log.

Each figure comes with its peak, the largest hourly counter it sums (for activity: the cells of the figure summed
per UTC hour, since a person is counted in at most one cell an hour): publication rests on it (``privacy.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import h3.api.basic_int as h3
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from consent.errors import NotFound
from geo_offers.insights.models import PrivacyBudgetEntry
from geo_offers.insights.privacy import Count
from geo_offers.places.models import Deal, Store

# Hour of the week in local time: Monday 0:00-1:00 = 0 ... Sunday 23:00-24:00 = 167.
_LOCAL_HOW = "((extract(isodow FROM {ts} AT TIME ZONE :tz) - 1) * 24 + extract(hour FROM {ts} AT TIME ZONE :tz))::int"

_DAY_COUNTS = text(
    """
    SELECT day, kind, sum(count)::bigint AS total, max(peak)::bigint AS peak FROM (
        SELECT (hour AT TIME ZONE :tz)::date AS day, kind, count, count AS peak
          FROM deal_hour_counts
         WHERE deal_id = :deal_id AND hour >= :since AND hour < :until
        UNION ALL
        SELECT day, kind, count, peak FROM deal_day_counts WHERE deal_id = :deal_id AND day BETWEEN :first AND :last
    ) AS c
     WHERE day BETWEEN :first AND :last
     GROUP BY day, kind
    """
)
_DEAL_HOURS = text(
    f"""
    SELECT {_LOCAL_HOW.format(ts="hour")} AS how, kind, sum(count)::bigint AS total, max(count)::bigint AS peak
      FROM deal_hour_counts
     WHERE deal_id = :deal_id AND hour >= :since AND hour < :until
     GROUP BY 1, 2
    """
)
_ACTIVITY_HOURS = text(
    f"""
    SELECT {_LOCAL_HOW.format(ts="h")} AS how, sum(count)::bigint AS total, max(count)::bigint AS peak
      FROM (SELECT ((week + hour_of_week * interval '1 hour') AT TIME ZONE 'UTC') AS h, sum(count) AS count
              FROM activity_counts
             WHERE cell BETWEEN :low AND :high AND week >= :first_week AND week < :end_week
             GROUP BY 1) AS a
     GROUP BY 1
    """
)
_NEAR_STORES = text(
    """
    SELECT ST_Y(location) AS lat, ST_X(location) AS lon, timezone,
           ST_Distance(location::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS metres
      FROM stores
     WHERE merchant_id = :merchant_id
       AND ST_DWithin(location::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :radius)
     ORDER BY metres
    """
)


@dataclass(frozen=True, slots=True, kw_only=True)
class DealPlace:
    """A merchant's deal and the time zone of its store (days and hours are shown in it)."""

    deal_id: int
    timezone: str


def own_deal(session: Session, merchant_id: int, deal_id: int) -> DealPlace:
    """The merchant's deal, or NotFound (also for another merchant's deal)."""
    row = session.execute(
        select(Deal.id, Store.timezone)
        .join(Store, Store.id == Deal.store_id)
        .where(Deal.id == deal_id, Deal.merchant_id == merchant_id)
    ).one_or_none()
    if row is None:
        raise NotFound("deal not found")
    return DealPlace(deal_id=row.id, timezone=row.timezone)


def day_counts(
    session: Session, deal_id: int, tz: str, first: date, last: date, since: datetime, until: datetime
) -> dict[tuple[date, str], Count]:
    """True counts per (local day, kind) from hourly and rolled-up daily counters."""
    params = {"deal_id": deal_id, "tz": tz, "first": first, "last": last, "since": since, "until": until}
    return {(r.day, r.kind): Count(int(r.total), int(r.peak)) for r in session.execute(_DAY_COUNTS, params)}


def deal_hour_counts(
    session: Session, deal_id: int, tz: str, since: datetime, until: datetime
) -> dict[tuple[int, str], Count]:
    """True counts per (local hour of week, kind) of the hours in [since, until)."""
    params = {"deal_id": deal_id, "tz": tz, "since": since, "until": until}
    return {(int(r.how), r.kind): Count(int(r.total), int(r.peak)) for r in session.execute(_DEAL_HOURS, params)}


def activity_hour_counts(
    session: Session, low: int, high: int, tz: str, first_week: date, end_week: date
) -> dict[int, Count]:
    """True counts of people asking per local hour of week in the resolution-6 cells low..high, weeks [first, end)."""
    params = {"low": low, "high": high, "tz": tz, "first_week": first_week, "end_week": end_week}
    return {int(r.how): Count(int(r.total), int(r.peak)) for r in session.execute(_ACTIVITY_HOURS, params)}


def store_near(session: Session, merchant_id: int, cell: int) -> str | None:
    """The time zone of the merchant's nearest store in the cell or a neighbouring cell, else None."""
    res = h3.get_resolution(cell)
    lat, lon = h3.cell_to_latlng(cell)
    ring = set(h3.grid_disk(cell, 1))
    # Anything in the cell or its first ring lies within about 4 edge lengths of the centre.
    radius = 4.5 * float(h3.average_hexagon_edge_length(res, unit="m"))
    params = {"merchant_id": merchant_id, "lat": lat, "lon": lon, "radius": radius}
    for store in session.execute(_NEAR_STORES, params):
        if h3.latlng_to_cell(store.lat, store.lon, res) in ring:
            return str(store.timezone)
    return None


def log_release(
    session: Session,
    *,
    key_id: str,
    merchant_id: int | None,
    figure: str,
    mechanism: str,
    epsilon: float,
    k: int,
    figures: int,
    suppressed: int,
    now: datetime,
) -> None:
    """Append one release to the privacy-budget log (in the request's transaction)."""
    session.execute(
        insert(PrivacyBudgetEntry).values(
            key_id=key_id,
            merchant_id=merchant_id,
            figure=figure,
            mechanism=mechanism,
            epsilon=epsilon,
            k=k,
            figures=figures,
            suppressed=suppressed,
            released_at=now,
        )
    )


def budget_entries(session: Session, *, after: int, limit: int, merchant_id: int | None) -> list[PrivacyBudgetEntry]:
    """Releases in id order after ``after``, optionally of one merchant."""
    stmt = select(PrivacyBudgetEntry).where(PrivacyBudgetEntry.id > after)
    if merchant_id is not None:
        stmt = stmt.where(PrivacyBudgetEntry.merchant_id == merchant_id)
    return list(session.scalars(stmt.order_by(PrivacyBudgetEntry.id).limit(limit)))
