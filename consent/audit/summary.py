"""The officer's daily summary, computed from the ledger alone: events per day and purpose, and how many
consents were active at the end of each day.

Counts per purpose are counts of decisions (see ``consent.audit.decisions``): a purpose refused by Global Privacy
Control inside a grant event is a refusal, counted in ``declines`` and again, as a part of it, in
``declines_by_gpc``.

A consent is active from its grant until the next event for the same subject tag and purpose (withdrawal,
refusal, expiry, erasure or a new grant), its ``expires_at``, or the publication of a notice that asks everyone
for fresh consent to that purpose, whichever comes first. Days are UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from consent.audit import decisions

# Per day, purpose and decision, with who decided: a refusal implied by Global Privacy Control inside a grant event
# counts as a refusal of that purpose (see consent.audit.decisions).
_COUNTS = text(
    f"""
    SELECT (e.occurred_at AT TIME ZONE 'UTC')::date AS day, d.decision, d.decided_by, d.purpose, count(*) AS n
      FROM consent_events e
      CROSS JOIN LATERAL ({decisions.decision_rows_sql()}) AS d(decision, decided_by, purpose)
     WHERE e.occurred_at >= :start AND e.occurred_at < :stop
     GROUP BY 1, 2, 3, 4
    """
)

_EVENTS = text(
    """
    SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day, event_type, count(*) AS n
      FROM consent_events
     WHERE occurred_at >= :start AND occurred_at < :stop
     GROUP BY 1, 2
    """
)

# One span per granted (tag, purpose): from the grant to whatever ends it first.
_ACTIVE = text(
    """
    WITH touches AS (
        SELECT e.seq, e.occurred_at, e.event_type, e.tag, p.purpose, e.notice_version,
               e.event_type = 'grant' AND (e.canonical::jsonb -> 'granted') ? p.purpose AS grants,
               e.canonical::jsonb ->> 'expires_at' AS expires_at
          FROM consent_events e
          CROSS JOIN LATERAL unnest(e.purposes) AS p(purpose)
         WHERE e.occurred_at < :stop
    ),
    spans AS (
        SELECT t.purpose, t.occurred_at AS start,
               LEAST(
                   lead(t.occurred_at) OVER (PARTITION BY t.tag, t.purpose ORDER BY t.seq),
                   CAST(t.expires_at AS timestamptz),
                   (SELECT min(n.published_at) FROM notices n
                     WHERE n.version > t.notice_version AND t.purpose = ANY(n.fresh_consent_for))
               ) AS stop,
               t.grants
          FROM touches t
    )
    SELECT d.day, s.purpose, count(*) AS n
      FROM spans s
      JOIN generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS d(day)
        ON s.start < (d.day + interval '1 day') AT TIME ZONE 'UTC'
       AND (s.stop IS NULL OR s.stop >= (d.day + interval '1 day') AT TIME ZONE 'UTC')
     WHERE s.grants
     GROUP BY 1, 2
    """
)

EVENT_KEYS = {
    "grant": "grants",
    "decline": "declines",
    "withdraw": "withdrawals",
    "expire": "expiries",
    "erase": "erasures",
}


@dataclass
class PurposeDay:
    """One purpose on one day."""

    grants: int = 0
    declines: int = 0
    declines_by_gpc: int = 0
    withdrawals: int = 0
    expiries: int = 0
    erasures: int = 0
    active_end_of_day: int = 0


@dataclass
class Day:
    """One UTC day: events by type (each event once) and per purpose."""

    day: date
    events: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_KEYS.values(), 0))
    purposes: dict[str, PurposeDay] = field(default_factory=dict)


def summary(session: Session, first: date, last: date, purposes: list[str]) -> list[Day]:
    """Per day from ``first`` to ``last`` (inclusive): event counts and active consents per purpose."""
    start = datetime.combine(first, time(0), tzinfo=UTC)
    stop = datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)
    days: dict[date, Day] = {}
    current = first
    while current <= last:
        days[current] = Day(current, purposes={p: PurposeDay() for p in purposes})
        current += timedelta(days=1)
    params = {"start": start, "stop": stop}
    for row in session.execute(_EVENTS, params):
        days[row.day].events[EVENT_KEYS[row.event_type]] = row.n
    for row in session.execute(_COUNTS, params):
        entry = days[row.day].purposes.setdefault(row.purpose, PurposeDay())
        key = EVENT_KEYS[row.decision]
        setattr(entry, key, getattr(entry, key) + row.n)
        if row.decided_by == "gpc":
            entry.declines_by_gpc += row.n
    for row in session.execute(_ACTIVE, {"stop": stop, "first": first, "last": last}):
        day = row.day.date() if isinstance(row.day, datetime) else row.day
        days[day].purposes.setdefault(row.purpose, PurposeDay()).active_end_of_day = row.n
    return list(days.values())
