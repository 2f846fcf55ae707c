"""Offline verification of a ledger export (``geo-offers ledger verify-export``), failing closed.

What a file can prove depends on what its header says it holds (``consent.ledger.export``):

- every export: each event's hash is ``SHA-256(prev_hash || canonical)``, its columns say what the hashed text
  says, events are in strictly rising sequence order, consecutive events link, and none lies beyond the head;
- a full export, in addition: it starts at event 1, has no gap, and ends at the head its header names (so a
  deleted, missing or cut-off event is found; the header itself is not signed, so this catches accidents and
  careless edits, not someone who rewrites the file and its header);
- with signed checkpoints: the export holds each checkpoint's event with the signed hash, so a rewritten ledger
  is found; a full export is then proven complete from event 1 up to the newest checkpoint.

A filtered export cannot prove that no event is missing; the answer says so. Whatever cannot be checked (an
empty or unreadable file, a missing header, other columns, a checkpoint the export does not reach) is a failure,
with the reason and the first bad position (sequence number and line).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from consent.canonical import GENESIS
from consent.ledger import chain as ledger
from consent.ledger.checkpoints import SignedCheckpoint, check_signature
from consent.ledger.export import CSV_FIELDS, EXPORT_KIND, EXPORT_VERSION

#: A header line is a few hundred bytes; a first line longer than this is not one.
MAX_HEADER_CHARS = 64 * 1024
FILTERED_NOTE = (
    "filtered export: each event's own hash, its order and the links between consecutive events are verified; "
    "it cannot prove that no event is missing"
)


class BadExport(Exception):
    """The file cannot be verified at ``line`` (1-based; None when the file cannot be read at all)."""

    def __init__(self, problem: str, line: int | None, seq: int | None = None) -> None:
        super().__init__(problem)
        self.problem, self.line, self.seq = problem, line, seq


@dataclass
class ExportCheck:
    """What an offline check of an export found."""

    ok: bool = True
    format: str | None = None
    scope: str | None = None
    filter: dict[str, Any] | None = None
    head_seq: int | None = None
    events: int = 0
    segments: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    from_genesis: bool = False
    complete: bool = False
    checkpoints_matched: list[int] = field(default_factory=list)
    anchored_through: int | None = None
    first_bad_seq: int | None = None
    first_bad_line: int | None = None
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    def fail(self, problem: str, *, seq: int | None = None, line: int | None = None) -> ExportCheck:
        """Mark the check failed at ``seq`` / ``line``; a failed export proves nothing, complete included."""
        self.ok, self.complete, self.problem = False, False, problem
        self.first_bad_seq, self.first_bad_line = seq, line
        return self

    def summary(self) -> dict[str, Any]:
        """The JSON answer of ``verify-export``."""
        return {
            "ok": self.ok,
            "format": self.format,
            "scope": self.scope,
            "filter": self.filter,
            "head_seq": self.head_seq,
            "events": self.events,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "segments": self.segments,
            "from_genesis": self.from_genesis,
            "complete": self.complete,
            "checkpoints_matched": self.checkpoints_matched,
            "anchored_through": self.anchored_through,
            "first_bad_seq": self.first_bad_seq,
            "first_bad_line": self.first_bad_line,
            "problem": self.problem,
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True)
class Header:
    """The parsed first line of an export."""

    format: str
    scope: str
    filter: dict[str, Any]
    head_seq: int
    head_hash: bytes


def parse_header(line: str) -> Header:
    """The header of line 1; BadExport saying why when line 1 is not one this verifier understands."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise BadExport("line 1 is not an export header (not JSON); exports start with one", 1) from None
    if not isinstance(data, dict) or data.get("export") != EXPORT_KIND:
        raise BadExport(f'line 1 is not an export header (no "export": "{EXPORT_KIND}")', 1)
    if data.get("version") != EXPORT_VERSION:
        raise BadExport(f"export version {data.get('version')!r} is not {EXPORT_VERSION}, the one understood here", 1)
    head, described = data.get("head"), data.get("filter")
    malformed = BadExport("the export header is malformed (format, scope, filter or head)", 1)
    if not isinstance(head, dict) or not isinstance(described, dict) or data.get("format") not in ("csv", "jsonl"):
        raise malformed
    # A full export states no filter and a filtered one states its filter: anything else is not understood.
    if (data.get("scope"), bool(described)) not in (("full", False), ("filtered", True)):
        raise malformed
    seq, digest = head.get("seq"), head.get("hash")
    if type(seq) is not int or seq < 0 or not isinstance(digest, str) or len(digest) != 64:
        raise malformed
    try:
        head_hash = bytes.fromhex(digest)
    except ValueError:
        raise malformed from None
    return Header(format=data["format"], scope=data["scope"], filter=described, head_seq=seq, head_hash=head_hash)


def _csv_records(handle: io.TextIOBase) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.reader(handle)
    columns = next(reader, None)
    if columns is None or tuple(columns) != CSV_FIELDS:
        found = "nothing" if columns is None else ",".join(columns)[:200]
        raise BadExport(f"wrong columns: expected {','.join(CSV_FIELDS)}, found {found}", 2)
    for row in reader:
        line = reader.line_num + 1  # the header line came before the reader's first line
        if not row:
            continue
        if len(row) != len(CSV_FIELDS):
            raise BadExport(f"{len(row)} fields where the columns name {len(CSV_FIELDS)}", line)
        item: dict[str, Any] = dict(zip(CSV_FIELDS, row, strict=True))
        item["purposes"] = [p for p in item["purposes"].split(";") if p]
        item["decision_id"] = item["decision_id"] or None
        version = item["notice_version"]
        if version and not version.isdigit():
            raise BadExport("malformed event record: notice_version must be a whole number", line)
        item["notice_version"] = int(version) if version else None
        yield line, item


def _jsonl_records(handle: io.TextIOBase) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, text in enumerate(handle, 2):
        if not text.strip():
            continue
        try:
            item = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise BadExport("not a JSON object", line) from None
        if not isinstance(item, dict) or set(item) != set(CSV_FIELDS):
            raise BadExport(f"an event record has exactly the fields {', '.join(CSV_FIELDS)}", line)
        yield line, item


def _verify_row(item: dict[str, Any]) -> ledger.VerifyRow:
    seq = item["seq"]
    seq = int(seq) if isinstance(seq, str) and seq.isdigit() else seq
    if type(seq) is not int or not all(isinstance(item[k], str) for k in ("type", "tag", "canonical", "occurred_at")):
        raise ValueError("seq must be a whole number and type, tag, canonical and occurred_at text")
    purposes, version, decision = item["purposes"], item["notice_version"], item["decision_id"]
    if not isinstance(purposes, list) or not all(isinstance(p, str) for p in purposes):
        raise ValueError("purposes must be a list of text")
    if version is not None and type(version) is not int:
        raise ValueError("notice_version must be a whole number")
    if decision is not None and not isinstance(decision, str):
        raise ValueError("decision_id must be text")
    return ledger.VerifyRow(
        seq=seq,
        canonical=item["canonical"],
        prev_hash=bytes.fromhex(item["prev_hash"]),
        hash=bytes.fromhex(item["hash"]),
        event_type=item["type"],
        tag=item["tag"],
        decision_id=decision or "",
        purposes=purposes,
        notice_version=version,
        at=item["occurred_at"],
    )


def _check_events(
    check: ExportCheck, head: Header, records: Iterator[tuple[int, dict[str, Any]]], wanted: dict[int, Any]
) -> tuple[int, bytes]:
    """Walk the events; returns the line after the last one and the last hash. Raises BadExport at the first fault."""
    full = head.scope == "full"
    prev_seq, prev_hash, run_start, line = 0, GENESIS, 0, 2
    for line, item in records:
        try:
            row = _verify_row(item)
        except (KeyError, TypeError, ValueError) as error:
            raise BadExport(f"malformed event record: {error}", line, prev_seq + 1) from None
        seq = row.seq
        if seq <= prev_seq:
            raise BadExport(f"events are not in sequence order: event {seq} after event {prev_seq}", line, seq)
        if seq > head.head_seq:
            raise BadExport(f"event {seq} lies beyond the ledger head the header names ({head.head_seq})", line, seq)
        if full and seq != prev_seq + 1:
            missing = prev_seq + 1
            raise BadExport(f"event {missing} is missing (the next is {seq}): a full export has no gaps", line, missing)
        if seq == prev_seq + 1:
            expected_prev = prev_hash
        else:  # a new run of a filtered export: stands on the hash it names, which the file cannot prove
            expected_prev = row.prev_hash
        if seq != prev_seq + 1 or check.segments == 0:
            run_start, check.segments = seq, check.segments + 1
        problem = ledger.check_row(row, seq, expected_prev)
        if problem is not None:
            raise BadExport(problem, line, seq)
        anchor = wanted.get(seq)
        if anchor is not None:
            if row.hash != anchor.head_hash:
                raise BadExport(f"the hash of event {seq} differs from the signed checkpoint: rewritten", line, seq)
            check.checkpoints_matched.append(seq)
            if run_start == 1:
                check.anchored_through = seq
        if check.first_seq is None:
            check.first_seq, check.from_genesis = seq, seq == 1
        check.events += 1
        prev_seq, prev_hash = seq, row.hash
    check.last_seq = prev_seq or None
    return line + 1, prev_hash


def verify_file(
    path: Path, checkpoints: Sequence[SignedCheckpoint] = (), trusted_key: bytes | None = None
) -> ExportCheck:
    """Check an export file against its header and the given checkpoints (each validly signed, by
    ``trusted_key`` when given); ``ok`` only when everything that was asked could be checked and held."""
    check = ExportCheck()
    for checkpoint in checkpoints:
        problem = check_signature(checkpoint, trusted_key)
        if problem is not None:
            return check.fail(f"checkpoint at seq {checkpoint.seq}: {problem}", seq=checkpoint.seq)
    wanted = {c.seq: c for c in checkpoints}
    try:
        with path.open("r", encoding="utf-8", newline="") as handle:
            first = handle.readline(MAX_HEADER_CHARS)
            if not first:
                raise BadExport("the file is empty; an export starts with its header line", 1)
            head = parse_header(first)
            check.format, check.scope, check.filter = head.format, head.scope, head.filter
            check.head_seq = head.head_seq
            records = _csv_records(handle) if head.format == "csv" else _jsonl_records(handle)
            end_line, last_hash = _check_events(check, head, records, wanted)
    except BadExport as bad:
        return check.fail(bad.problem, seq=bad.seq, line=bad.line)
    except UnicodeDecodeError:
        return check.fail("the file is not UTF-8 text")
    except OSError as error:
        return check.fail(f"cannot read {path}: {error.strerror or error}")
    except csv.Error as error:
        return check.fail(f"not readable as CSV: {error}")
    last = check.last_seq or 0
    if head.scope == "full" and (last != head.head_seq or (last and last_hash != head.head_hash)):
        if last < head.head_seq:
            problem = f"the export ends at event {last}, but its header names the head {head.head_seq}: truncated"
        else:
            problem = f"the last event's hash differs from the head the header names (event {last})"
        return check.fail(problem, seq=last + 1 if last < head.head_seq else last, line=end_line)
    missing = sorted(set(wanted) - set(check.checkpoints_matched))
    if missing:
        seq = missing[0]
        reach = f"the export ends at event {last}" if seq > last else "it was filtered out"
        return check.fail(f"the export does not contain event {seq}, which a checkpoint signs ({reach})", seq=seq)
    check.complete = head.scope == "full"
    if head.scope == "filtered":
        check.notes.append(FILTERED_NOTE)
    elif not checkpoints:
        check.notes.append(
            "no checkpoint given: the chain is whole from event 1 to the head the header names, but a ledger "
            "rewritten with every hash recomputed would be too; check against a signed checkpoint"
        )
    return check
