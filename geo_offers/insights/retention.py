"""Retention: hourly insight counters become daily ones, and what is past its time goes (deal change rows too)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo_offers.settings import Settings

# Days are the store's local days, like the daily figures of the insights; rows are locked in key order. A day
# keeps its largest hourly counter (peak): publication rests on it (insights/privacy.py).
_ROLL_UP = text(
    """
    WITH old AS (
        DELETE FROM deal_hour_counts WHERE hour < :cutoff RETURNING deal_id, hour, kind, count
    ), rolled AS (
        INSERT INTO deal_day_counts AS t (deal_id, day, kind, count, peak)
        SELECT o.deal_id, (o.hour AT TIME ZONE s.timezone)::date, o.kind, sum(o.count), max(o.count)
          FROM old o JOIN deals d ON d.id = o.deal_id JOIN stores s ON s.id = d.store_id
         GROUP BY 1, 2, 3
         ORDER BY 1, 2, 3
        ON CONFLICT (deal_id, day, kind) DO UPDATE SET count = t.count + EXCLUDED.count,
                                                      peak = GREATEST(t.peak, EXCLUDED.peak)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM old), (SELECT count(*) FROM rolled)
    """
)
_DROP_DAYS = text("DELETE FROM deal_day_counts WHERE day < :before")
_DROP_WEEKS = text("DELETE FROM activity_counts WHERE week + 7 <= :before")
# Change rows only serve workers catching up (and live streams resuming); the newest one always stays.
_DROP_CHANGES = text("DELETE FROM deal_changes WHERE at < :before AND seq < (SELECT seq FROM deal_change_head)")


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What one run did."""

    hourly_cutoff: datetime
    hourly_rolled: int
    daily_written: int
    daily_cutoff: date
    daily_deleted: int
    activity_cutoff: date
    activity_deleted: int
    changes_cutoff: datetime
    changes_deleted: int

    def summary(self) -> str:
        """One line per step, for the operator."""
        return "\n".join(
            (
                f"rolled {self.hourly_rolled} hourly deal counters from before {self.hourly_cutoff.isoformat()} "
                f"into {self.daily_written} daily counters (and deleted the hourly ones)",
                f"deleted {self.daily_deleted} daily deal counters from before {self.daily_cutoff.isoformat()}",
                f"deleted {self.activity_deleted} activity counters of weeks ending by "
                f"{self.activity_cutoff.isoformat()}",
                f"deleted {self.changes_deleted} deal change rows from before {self.changes_cutoff.isoformat()}",
            )
        )


def run(session: Session, settings: Settings, now: datetime) -> RetentionReport:
    """Roll up and delete, in the caller's transaction."""
    cutoff = now - timedelta(days=settings.retention_days)
    rolled, written = session.execute(_ROLL_UP, {"cutoff": cutoff}).one()
    daily_cutoff = (now - timedelta(days=settings.retention_daily_days)).date()
    daily = session.execute(_DROP_DAYS, {"before": daily_cutoff}).rowcount  # type: ignore[attr-defined]
    activity_cutoff = cutoff.date()
    activity = session.execute(_DROP_WEEKS, {"before": activity_cutoff}).rowcount  # type: ignore[attr-defined]
    changes_cutoff = now - timedelta(hours=settings.deal_changes_kept_h)
    changes = session.execute(_DROP_CHANGES, {"before": changes_cutoff}).rowcount  # type: ignore[attr-defined]
    return RetentionReport(
        hourly_cutoff=cutoff,
        hourly_rolled=int(rolled),
        daily_written=int(written),
        daily_cutoff=daily_cutoff,
        daily_deleted=int(daily),
        activity_cutoff=activity_cutoff,
        activity_deleted=int(activity),
        changes_cutoff=changes_cutoff,
        changes_deleted=int(changes),
    )
