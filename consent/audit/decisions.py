"""Decisions per purpose: what each ledger event decided about each purpose, and who decided it.

The ledger records one event per decision of a person, and one event can decide several purposes in different
ways: a grant sent with Global Privacy Control (``Sec-GPC: 1``) grants the purposes the person named and refuses
every other purpose of the notice. Its hashed document says so (``granted`` and ``declined``), but its type is
``grant``. An officer who asks for the refusals of a purpose must find that refusal too, so every filter and every
count reads an event as a set of (purpose, decision, decided by) triples, never by its type alone. The hashed
document format is untouched: the triples are read from what the ledger has always held.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, cast, false, or_, true
from sqlalchemy.dialects.postgresql import JSONB

from consent.models import ConsentEvent

DecisionType = Literal["grant", "decline", "withdraw", "expire", "erase"]
DecidedBy = Literal["person", "gpc", "service"]
DECIDED_BY: tuple[DecidedBy, ...] = ("person", "gpc", "service")


@dataclass(frozen=True, slots=True)
class Kind:
    """One way an event decides purposes: the event type, the decision, who made it, and where the purposes are.

    ``field`` names the document member that lists the purposes (``purposes`` is also the indexed column).
    """

    event_type: str
    decision: DecisionType
    by: DecidedBy
    field: str


#: Every (event type, decision, decided by) the ledger holds. Only a grant decides in two ways.
KINDS: tuple[Kind, ...] = (
    Kind("grant", "grant", "person", "granted"),
    Kind("grant", "decline", "gpc", "declined"),
    Kind("decline", "decline", "person", "purposes"),
    Kind("withdraw", "withdraw", "person", "purposes"),
    Kind("expire", "expire", "service", "purposes"),
    Kind("erase", "erase", "person", "purposes"),
)


@dataclass(frozen=True, slots=True)
class PurposeDecision:
    """What one event decided about one purpose."""

    purpose: str
    decision: DecisionType
    by: DecidedBy


def wanted_kinds(types: Iterable[str] = (), by: Iterable[str] = ()) -> list[Kind]:
    """The kinds a filter on decision types and deciders admits (all when a filter is empty)."""
    type_set, by_set = set(types), set(by)
    return [k for k in KINDS if (not type_set or k.decision in type_set) and (not by_set or k.by in by_set)]


def decisions_of(document: dict[str, Any]) -> list[PurposeDecision]:
    """The per-purpose decisions of one hashed event document, in the order of ``KINDS``."""
    found: list[PurposeDecision] = []
    for kind in KINDS:
        if document.get("type") != kind.event_type:
            continue
        for purpose in document.get(kind.field) or ():
            found.append(PurposeDecision(purpose=purpose, decision=kind.decision, by=kind.by))
    return found


def _kind_condition(kind: Kind, purpose: str | None) -> ColumnElement[bool]:
    is_type = ConsentEvent.event_type == kind.event_type
    if kind.field == "purposes":
        if purpose is None:
            return is_type
        return and_(is_type, ConsentEvent.purposes.contains([purpose]))
    listed = cast(ConsentEvent.canonical, JSONB)[kind.field]
    # A document leaves a member out when it is empty (see ledger.event_document), so presence means "some".
    has = listed.has_key(purpose) if purpose is not None else cast(ConsentEvent.canonical, JSONB).has_key(kind.field)
    return and_(is_type, has)


def condition(types: Sequence[str] = (), purpose: str | None = None, by: Sequence[str] = ()) -> ColumnElement[bool]:
    """Events holding a decision of one of ``types`` by one of ``by`` about ``purpose`` (each optional).

    All three hold for the same purpose: ``types=["grant"], purpose="p"`` finds the grants of ``p`` and not a
    grant event in which ``p`` was refused.
    """
    if not types and not by:
        return ConsentEvent.purposes.contains([purpose]) if purpose is not None else true()
    kinds = wanted_kinds(types, by)
    if not kinds:
        return false()
    return or_(*(_kind_condition(kind, purpose) for kind in kinds))


def decision_rows_sql() -> str:
    """SQL for a LATERAL subquery over ``consent_events e`` giving ``(decision, by, purpose)`` per purpose.

    Built from ``KINDS`` so the summary counts exactly what the filters find.
    """
    parts = []
    for kind in KINDS:
        if kind.field == "purposes":
            source = "unnest(e.purposes)"
        else:
            source = f"jsonb_array_elements_text(COALESCE(e.canonical::jsonb -> '{kind.field}', '[]'::jsonb))"
        parts.append(
            f"SELECT '{kind.decision}'::text, '{kind.by}'::text, p FROM {source} AS p "
            f"WHERE e.event_type = '{kind.event_type}'"
        )
    return " UNION ALL ".join(parts)
