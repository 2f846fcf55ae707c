"""Ledger exports (CSV or JSON Lines) that can be verified offline, and that offline verification.

Every exported event carries ``seq``, ``prev_hash``, ``hash`` and the exact ``canonical`` text that was hashed, so
``hash == SHA-256(prev_hash || canonical)`` can be recomputed with nothing but the file. Consecutive events must
link (``prev_hash`` of one is ``hash`` of the one before); a filtered export consists of several such segments.
A signed checkpoint anchors the segment that contains its sequence number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, Select

from consent.canonical import GENESIS, iso
from consent.ledger import chain as ledger
from consent.ledger.checkpoints import SignedCheckpoint, check_signature

Format = Literal["csv", "jsonl"]
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


def _csv_text(records: Iterable[dict[str, Any]], header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
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


def render(rows: Sequence[Any], fmt: Format, first: bool) -> bytes:
    """One chunk of an export (``first`` adds the CSV header)."""
    records = [record(row) for row in rows]
    if fmt == "jsonl":
        return b"".join(orjson.dumps(item) + b"\n" for item in records)
    text = _csv_text(records, header=first)
    return text.encode("utf-8")


def stream(connection: Connection, query: Select[*tuple[Any, ...]], fmt: Format, batch: int = 2000) -> Iterator[bytes]:
    """The export of ``query`` in chunks of ``batch`` events, read through a server-side cursor.

    Memory stays bounded by one batch whatever the number of events; the caller owns the connection.
    """
    result = connection.execution_options(stream_results=True, yield_per=batch).execute(query)
    first = True
    for rows in result.partitions():
        yield render(rows, fmt, first)
        first = False
    if first and fmt == "csv":
        yield render([], fmt, True)


# --- offline verification -------------------------------------------------------------------------------------


@dataclass
class ExportCheck:
    """What an offline check of an export found."""

    ok: bool = True
    events: int = 0
    segments: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    from_genesis: bool = False
    checkpoints_matched: list[int] = field(default_factory=list)
    anchored_through: int | None = None
    first_bad_seq: int | None = None
    problem: str | None = None

    def fail(self, seq: int | None, problem: str) -> ExportCheck:
        """Mark the check failed at ``seq``."""
        self.ok, self.first_bad_seq, self.problem = False, seq, problem
        return self


def _verify_row(item: dict[str, Any]) -> ledger.VerifyRow:
    return ledger.VerifyRow(
        seq=int(item["seq"]),
        canonical=str(item["canonical"]),
        prev_hash=bytes.fromhex(item["prev_hash"]),
        hash=bytes.fromhex(item["hash"]),
        event_type=str(item["type"]),
        tag=str(item["tag"]),
        decision_id=item["decision_id"] or "",
        purposes=list(item["purposes"]),
        notice_version=None if item["notice_version"] in (None, "") else int(item["notice_version"]),
        at=str(item["occurred_at"]),
    )


def read_records(path: Path, fmt: Format | None = None) -> Iterator[dict[str, Any]]:
    """Records of an export file, one at a time (the format from the extension or the first byte)."""
    with path.open("r", encoding="utf-8", newline="") as handle:
        if fmt is None:
            head = handle.read(1)
            handle.seek(0)
            fmt = "jsonl" if path.suffix == ".jsonl" or head == "{" else "csv"
        if fmt == "jsonl":
            for line in handle:
                if line.strip():
                    yield orjson.loads(line)
            return
        for row in csv.DictReader(handle):
            yield {**row, "purposes": [p for p in row["purposes"].split(";") if p]}


def verify_records(
    records: Iterable[dict[str, Any]],
    checkpoints: Sequence[SignedCheckpoint] = (),
    trusted_key: bytes | None = None,
) -> ExportCheck:
    """Check every event's hash and the links between consecutive events, then match the checkpoints.

    A checkpoint must carry a valid signature (by ``trusted_key`` when given), its event must be in the export,
    and the export's hash there must be the signed one. When the segment holding it starts at event 1, every
    event up to the checkpoint is proven.
    """
    check = ExportCheck()
    for checkpoint in checkpoints:
        problem = check_signature(checkpoint, trusted_key)
        if problem is not None:
            return check.fail(checkpoint.seq, f"checkpoint at seq {checkpoint.seq}: {problem}")
    wanted = {c.seq: c for c in checkpoints}
    prev_seq: int | None = None
    prev_hash = GENESIS
    segment_start = 0
    for item in records:
        try:
            row = _verify_row(item)
        except (KeyError, TypeError, ValueError) as error:
            return check.fail(prev_seq + 1 if prev_seq is not None else None, f"malformed record: {error}")
        seq = row.seq
        if prev_seq is not None and seq <= prev_seq:
            return check.fail(seq, "events are not in sequence order")
        if prev_seq is not None and seq == prev_seq + 1:
            expected_prev = prev_hash
        else:  # a new segment: from the genesis, or standing on the hash it names
            expected_prev = GENESIS if seq == 1 else row.prev_hash
            segment_start = seq
            check.segments += 1
        problem = ledger.check_row(row, seq, expected_prev)
        if problem is not None:
            return check.fail(seq, problem)
        anchor = wanted.get(seq)
        if anchor is not None:
            if row.hash != anchor.head_hash:
                return check.fail(seq, f"the hash of event {seq} differs from the signed checkpoint: rewritten")
            check.checkpoints_matched.append(seq)
            if segment_start == 1:
                check.anchored_through = seq
        if check.first_seq is None:
            check.first_seq = seq
            check.from_genesis = seq == 1
        check.events += 1
        prev_seq, prev_hash = seq, row.hash
    check.last_seq = prev_seq
    missing = sorted(set(wanted) - set(check.checkpoints_matched))
    if missing:
        return check.fail(missing[0], f"the export does not contain event {missing[0]} named by a checkpoint")
    return check
