"""A matchable deal as the index receives it, and the two parts of its offer JSON rendered once at load."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

_WHOLE_SECONDS_Z = orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS


@dataclass(frozen=True, slots=True, kw_only=True)
class DealRecord:
    """Everything the index keeps of one matchable deal."""

    deal_id: int
    title: str
    description: str
    category: str
    store_id: int
    store_name: str
    store_address: str
    lat: float
    lon: float
    timezone: str
    valid_from: datetime
    valid_until: datetime
    windows: list[dict[str, Any]]
    cells: list[int]
    frequency_rules: list[dict[str, Any]] = field(default_factory=list)
    one_time_codes: bool = False


def render_text(record: DealRecord) -> bytes:
    """The deal's own part of its offer JSON (``"title":...,"valid_until":"..."``, no braces)."""
    return orjson.dumps(
        {
            "title": record.title,
            "description": record.description,
            "category": record.category,
            "valid_until": record.valid_until.astimezone(UTC),  # 2026-11-23T12:00:00Z, whole seconds
        },
        option=_WHOLE_SECONDS_Z,
    )[1:-1]


def render_store(record: DealRecord) -> bytes:
    """The store's part of an offer's JSON (``"store":{...}``), shared by the deals of a store."""
    store = {"id": record.store_id, "name": record.store_name, "address": record.store_address}
    return b'"store":' + orjson.dumps(store)


def render_terms(record: DealRecord) -> bytes:
    """What the app applies on the device (``"frequency_rules":[...],"one_time_codes":...``): few distinct
    values among all deals, so the index keeps each once."""
    terms = {"frequency_rules": record.frequency_rules, "one_time_codes": record.one_time_codes}
    return orjson.dumps(terms)[1:-1]
