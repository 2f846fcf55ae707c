"""Ledger exports (CSV or JSON Lines) that can be verified offline: the header line and the records.

The first line of every export, in both formats, is one JSON object, the header: what the file holds (the whole
chain or a filtered part of it, with the filter), its format, the ledger head when it was made and when. Then the
events follow in sequence order (CSV: a column line first). Every event carries ``seq``, ``prev_hash``, ``hash``
and the exact ``canonical`` text that was hashed, so ``hash == SHA-256(prev_hash || canonical)`` can be recomputed
with nothing but the file (``consent.ledger.export_check``).

Why a JSON line on top of a CSV: a reader made for the header-less files of version 1 takes it for the column
line (CSV) or for an event without a ``seq`` (JSON Lines) and fails, instead of reading a filtered file as the
whole ledger; and one header serves both formats.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import orjson
from sqlalchemy import Connection, Select, text

from consent.canonical import iso

if TYPE_CHECKING:
    from consent.audit.events import EventFilter

Format = Literal["csv", "jsonl"]
#: What the header's ``export`` field says; the verifier refuses a file whose first line does not say it.
EXPORT_KIND = "geo-offers consent ledger"
#: Version 1 had no header line; version 2 starts with it.
EXPORT_VERSION = 2
CSV_FIELDS = (
    "seq",
    "occurred_at",
    "type",
    "tag",
    "decision_id",
    "purposes",
    "notice_version",
    "prev_hash",
    "hash",
    "canonical",
)
MEDIA_TYPES: dict[str, str] = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl"}
#: The API's names of the filter fields whose dataclass names differ.
_PARAM_NAMES = {"types": "type", "subject_id": "subject"}


def describe_filter(wanted: EventFilter) -> dict[str, Any]:
    """The filter as the header states it: every field that filters, under its query-parameter name.

    A subject filter is stated as ``"subject": true``: the id the person gave is never written into a file
    (the events carry only the ledger tag). Fields are read generically, so a filter field added later is
    stated too rather than silently left out of the header.
    """
    described: dict[str, Any] = {}
    for item in dataclasses.fields(wanted):
        value = getattr(wanted, item.name)
        if value is None or value == () or value == "" or value is False:
            continue
        name = _PARAM_NAMES.get(item.name, item.name)
        if item.name == "subject_id":
            described[name] = True
        elif isinstance(value, datetime):
            described[name] = iso(value)
        elif isinstance(value, (tuple, list, set, frozenset)):
            described[name] = sorted(str(v) for v in value)
        else:
            described[name] = value
    if not described and not wanted.is_complete:  # a filter field this function cannot state: a bug
        raise ValueError("the export filter filters, but its description is empty")
    return described


def header(fmt: Format, described: dict[str, Any], head_seq: int, head_hash: bytes, now: datetime) -> dict[str, Any]:
    """The first line of an export: ``scope`` is ``full`` only when nothing is filtered out."""
    return {
        "export": EXPORT_KIND,
        "version": EXPORT_VERSION,
        "format": fmt,
        "scope": "filtered" if described else "full",
        "filter": described,
        "head": {"seq": head_seq, "hash": head_hash.hex()},
        "exported_at": iso(now),
    }


def record(row: Any) -> dict[str, Any]:
    """An event row as an export record (the same fields in both formats)."""
    return {
        "seq": row.seq,
        "occurred_at": iso(row.occurred_at),
        "type": row.event_type,
        "tag": str(row.tag),
        "decision_id": str(row.decision_id) if row.decision_id is not None else None,
        "purposes": list(row.purposes),
        "notice_version": row.notice_version,
        "prev_hash": bytes(row.prev_hash).hex(),
        "hash": bytes(row.hash).hex(),
        "canonical": row.canonical,
    }


def _csv_text(records: Iterable[dict[str, Any]], columns: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if columns:
        writer.writerow(CSV_FIELDS)
    for item in records:
        writer.writerow(
            [
                item["seq"],
                item["occurred_at"],
                item["type"],
                item["tag"],
                item["decision_id"] or "",
                ";".join(item["purposes"]),
                "" if item["notice_version"] is None else item["notice_version"],
                item["prev_hash"],
                item["hash"],
                item["canonical"],
            ]
        )
    return buffer.getvalue()


def render(rows: Sequence[Any], fmt: Format) -> bytes:
    """The records of one chunk of an export."""
    records = [record(row) for row in rows]
    if fmt == "jsonl":
        return b"".join(orjson.dumps(item) + b"\n" for item in records)
    return _csv_text(records, columns=False).encode("utf-8")


def stream(
    connection: Connection,
    query: Select[*tuple[Any, ...]],
    fmt: Format,
    described: dict[str, Any],
    now: datetime,
    batch: int = 2000,
) -> Iterator[bytes]:
    """The header, then the export of ``query`` in chunks of ``batch`` events, read through a server-side cursor.

    Run it in one REPEATABLE READ transaction: the head the header names and the events then come from the same
    snapshot, so a full export ends exactly at that head. Memory stays bounded by one batch whatever the number
    of events; the caller owns the connection.
    """
    head = connection.execute(text("SELECT seq, hash FROM ledger_head WHERE id = 1")).one()
    first = orjson.dumps(header(fmt, described, head.seq, bytes(head.hash), now)) + b"\n"
    if fmt == "csv":
        first += _csv_text((), columns=True).encode("utf-8")
    yield first
    result = connection.execution_options(stream_results=True, yield_per=batch).execute(query)
    for rows in result.partitions():
        yield render(rows, fmt)
