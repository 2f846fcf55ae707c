"""The one question the spatial core asks: may I use this subject's location for this purpose, how coarsely?

It is answered from the database on every call (one indexed query; many subjects at once when the caller
batches), never from a cache, so a withdrawal committed before a request arrives is seen by that request on
every instance.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from consent.pseudonyms import pseudonym

#: Active, unexpired consents of the given pseudonyms whose notice version is not below the purpose's floor.
#: The plan is pinned to "each pseudonym by its key, then that subject's few state rows by their key": the
#: LATERAL ... OFFSET 0 keeps the planner from starting at consent_state (which it did with statistics gathered
#: while the table was small: a scan of every active consent per lookup, 6-10 ms instead of 0.05 ms).
GATE_SQL = """
SELECT l.pseudonym, s.purpose, s.precision_res
  FROM subject_links l
 CROSS JOIN LATERAL (SELECT c.purpose, c.precision_res, c.status, c.expires_at, c.notice_version
                       FROM consent_state c
                      WHERE c.tag = l.tag
                     OFFSET 0) s
  LEFT JOIN purpose_floors f ON f.purpose = s.purpose
 WHERE l.pseudonym = ANY(%(aliases)s)
   AND s.status = 'active'
   AND s.expires_at > %(now)s
   AND (f.min_notice_version IS NULL OR s.notice_version >= f.min_notice_version)
"""

#: Run once per connection of a pool that answers gate lookups often: the server then plans the query once
#: (planning costs several times more than executing it) and each lookup sends a short EXECUTE.
PREPARE_GATE = "PREPARE consent_gate(bytea[], timestamptz) AS " + GATE_SQL.replace("%(aliases)s", "$1").replace(
    "%(now)s", "$2"
)
_EXECUTE_GATE = "EXECUTE consent_gate(%(aliases)s, %(now)s)"


@dataclass(frozen=True, slots=True)
class Permission:
    """The answer: whether the purpose is allowed and, for location purposes, the finest resolution."""

    allowed: bool
    precision_res: int | None = None


DENIED = Permission(False)
Grants = dict[str, Permission]
Fetch = Callable[[str, dict[str, Any]], Awaitable[Sequence[tuple[Any, ...]]]]


def _collect(rows: Sequence[tuple[Any, ...]]) -> dict[bytes, Grants]:
    grants: dict[bytes, Grants] = {}
    for alias, purpose, precision in rows:
        grants.setdefault(bytes(alias), {})[purpose] = Permission(True, precision)
    return grants


def check(session: Session, pepper: str, subject_id: str, purpose: str, now: datetime) -> Permission:
    """Synchronous form for one subject and purpose."""
    alias = pseudonym(pepper, subject_id)
    sql = text(GATE_SQL.replace("%(aliases)s", ":aliases").replace("%(now)s", ":now"))
    rows = session.execute(sql, {"aliases": [alias], "now": now}).all()
    return _collect([tuple(r) for r in rows]).get(alias, {}).get(purpose, DENIED)


async def lookup_many(
    fetch: Fetch, aliases: Sequence[bytes], now: datetime, *, prepared: bool = False
) -> dict[bytes, Grants]:
    """Asynchronous form for many pseudonyms at once: every purpose each one may use now.

    ``prepared``: the connections behind ``fetch`` ran ``PREPARE_GATE``.
    """
    rows = await fetch(_EXECUTE_GATE if prepared else GATE_SQL, {"aliases": list(aliases), "now": now})
    return _collect(rows)
