"""The offline verifier of ledger exports fails closed: the seven bad exports are refused, the good ones pass, and
the header says what an export holds (issue 13, defect 2)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.canonical import chain_hash
from consent.ledger import checkpoints
from geo_offers.cli import main
from tests.audit_env import Env, open_env
from tests.helpers import FakeClock, grant, new_subject

DAY1 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
EVENTS = 8


@dataclass
class Ledger:
    """An eight-event ledger with a signed checkpoint at its head, exported once per format."""

    env: Env
    full: dict[str, bytes]
    withdrawals: dict[str, bytes]
    subject_export: bytes
    subject: str
    checkpoints: Path
    public_key: Path
    key: Ed25519PrivateKey


@pytest.fixture(scope="module")
def ledger(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    folder = tmp_path_factory.mktemp("ledger")
    with open_env(module_database_url, FakeClock(DAY1)) as env:
        subjects = [new_subject() for _ in range(6)]
        for subject in subjects:  # events 1-6
            assert grant(env.client, env.app, subject, env.version).status_code == 201
            env.clock.advance(timedelta(minutes=10))
        for subject in subjects[:2]:  # events 7-8
            withdrawn = env.client.post("/v1/consents/withdraw", json={"subject_id": subject}, headers=env.app)
            assert withdrawn.status_code == 200
        key = Ed25519PrivateKey.generate()
        with env.db.transaction() as session:
            signed = checkpoints.create(session, key, env.clock())
        assert signed is not None and signed.seq == EVENTS
        saved = folder / "checkpoints.json"
        saved.write_bytes(env.client.get("/v1/audit/ledger/checkpoints", headers=env.dpo).content)
        public = folder / "ledger.pub"
        public.write_text(checkpoints.public_pem(key))

        def export(fmt: str, **params: Any) -> bytes:
            url = "/v1/audit/consent-events/export"
            response = env.client.get(url, params={"format": fmt, **params}, headers=env.dpo)
            assert response.status_code == 200, response.text
            return response.content

        yield Ledger(
            env=env,
            full={fmt: export(fmt) for fmt in ("jsonl", "csv")},
            withdrawals={fmt: export(fmt, type="withdraw") for fmt in ("jsonl", "csv")},
            subject_export=export("jsonl", subject=subjects[0]),
            subject=subjects[0],
            checkpoints=saved,
            public_key=public,
            key=key,
        )


def _split(data: bytes, fmt: str) -> tuple[list[str], list[str]]:
    """The lines before the events (header, and the CSV column line) and the event lines."""
    lines = data.decode("utf-8").splitlines()
    cut = 2 if fmt == "csv" else 1
    return lines[:cut], lines[cut:]


def _write(tmp_path: Path, fmt: str, lines: list[str]) -> Path:
    path = tmp_path / f"export.{fmt}"
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def _verify(capsys: pytest.CaptureFixture[str], path: Path, *argv: str) -> tuple[int, dict[str, Any], str]:
    status = main(["ledger", "verify-export", str(path), *argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return status, json.loads(captured.out), captured.err


def _anchored(ledger: Ledger) -> list[str]:
    return ["--checkpoint", str(ledger.checkpoints), "--public-key", str(ledger.public_key)]


def _refused(status: int, result: dict[str, Any], err: str, seq: int | None, *words: str) -> None:
    assert status == 1 and result["ok"] is False and result["complete"] is False, result
    assert result["first_bad_seq"] == seq, result
    assert all(word in result["problem"] for word in words), result["problem"]
    assert len(err.strip().splitlines()) == 1 and err.startswith("INVALID"), err


# --- the good ones ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_full_export_verifies_against_its_checkpoint(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    path = _write(tmp_path, fmt, ledger.full[fmt].decode().splitlines())
    status, result, err = _verify(capsys, path, *_anchored(ledger))
    assert status == 0 and result["ok"] and result["complete"] and result["scope"] == "full"
    assert result["events"] == EVENTS and result["head_seq"] == EVENTS and result["segments"] == 1
    assert result["anchored_through"] == EVENTS and result["key_pinned"] and err == ""


def test_a_filtered_export_verifies_what_it_can_and_says_it_cannot_prove_completeness(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for fmt in ("jsonl", "csv"):
        path = _write(tmp_path, fmt, ledger.withdrawals[fmt].decode().splitlines())
        status, result, err = _verify(capsys, path)
        assert status == 0 and result["ok"] and result["scope"] == "filtered", result
        assert result["filter"] == {"type": ["withdraw"]} and result["events"] == 2 and not result["complete"]
        assert "cannot prove that no event is missing" in err and result["notes"]


def test_an_export_of_an_empty_ledger_verifies(fresh_database_url: str, tmp_path: Path, capsys: Any) -> None:
    with open_env(fresh_database_url, FakeClock(DAY1)) as env:
        response = env.client.get("/v1/audit/consent-events/export", params={"format": "csv"}, headers=env.dpo)
    path = tmp_path / "empty.csv"
    path.write_bytes(response.content)
    status, result, _ = _verify(capsys, path)
    assert status == 0 and result["complete"] and result["events"] == 0 and result["head_seq"] == 0


def test_the_header_says_what_the_export_holds_and_never_the_subject_id(ledger: Ledger) -> None:
    full = json.loads(ledger.full["csv"].splitlines()[0])
    assert full["export"] == "geo-offers consent ledger" and full["version"] == 2 and full["format"] == "csv"
    assert full["scope"] == "full" and full["filter"] == {} and full["head"]["seq"] == EVENTS
    filtered = json.loads(ledger.withdrawals["jsonl"].splitlines()[0])
    assert filtered["scope"] == "filtered" and filtered["filter"] == {"type": ["withdraw"]}
    by_subject = json.loads(ledger.subject_export.splitlines()[0])
    assert by_subject["filter"] == {"subject": True}
    assert ledger.subject.encode() not in ledger.subject_export


def test_readers_of_header_less_exports_fail_loudly(ledger: Ledger) -> None:
    """A reader that takes line 1 for the columns (CSV) or for an event (JSON lines) finds no seq in it."""
    rows = list(csv.DictReader(io.StringIO(ledger.full["csv"].decode())))
    assert "seq" not in rows[0]
    assert "seq" not in json.loads(ledger.full["jsonl"].splitlines()[0])


# --- the seven bad ones -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_full_export_with_a_deleted_event_is_refused(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    head, events = _split(ledger.full[fmt], fmt)
    del events[5]  # event 6
    path = _write(tmp_path, fmt, head + events)
    _refused(*_verify(capsys, path), 6, "missing")
    _refused(*_verify(capsys, path, *_anchored(ledger)), 6, "missing")


def test_reordered_events_are_refused(ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    head, events = _split(ledger.full["jsonl"], "jsonl")
    events[2], events[3] = events[3], events[2]
    _refused(*_verify(capsys, _write(tmp_path, "jsonl", head + events)), 3, "missing")
    head, events = _split(ledger.withdrawals["csv"], "csv")
    _refused(*_verify(capsys, _write(tmp_path, "csv", head + events[::-1])), 7, "not in sequence order")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_an_edited_event_is_refused(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    head, events = _split(ledger.full[fmt], fmt)
    events[3] = events[3].replace("onboarding", "forged", 1)
    _refused(*_verify(capsys, _write(tmp_path, fmt, head + events)), 4, "hash")


def test_a_consistently_rewritten_event_is_caught_by_the_checkpoint(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every hash recomputed after an edit: consistent alone, refused against the signed head."""
    head, events = _split(ledger.full["jsonl"], "jsonl")
    records = [json.loads(line) for line in events]
    records[0]["canonical"] = records[0]["canonical"].replace("onboarding", "forged")
    prev = bytes(32)
    for item in records:
        item["prev_hash"], item["hash"] = prev.hex(), chain_hash(prev, item["canonical"]).hex()
        prev = bytes.fromhex(item["hash"])
    header = json.loads(head[0])
    header["head"]["hash"] = prev.hex()
    path = _write(tmp_path, "jsonl", [json.dumps(header)] + [json.dumps(item) for item in records])
    assert _verify(capsys, path)[0] == 0
    _refused(*_verify(capsys, path, *_anchored(ledger)), EVENTS, "rewritten")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_truncated_tail_before_the_checkpoint_is_refused(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    head, events = _split(ledger.full[fmt], fmt)
    path = _write(tmp_path, fmt, head + events[:5])
    _refused(*_verify(capsys, path), 6, "truncated")
    _refused(*_verify(capsys, path, *_anchored(ledger)), 6, "truncated")
    path.write_text("\n".join(head + events[:5]) + "\n" + events[5][: len(events[5]) // 2])  # a download cut off
    status, result, err = _verify(capsys, path)
    assert status == 1 and result["first_bad_line"] == len(head) + 6 and not result["ok"]


@pytest.mark.parametrize("content", [b"", b"hello\n", b"\n\n", b"\xff\xfe\x00garbage"])
def test_an_empty_or_unreadable_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path / "export.jsonl"
    path.write_bytes(content)
    status, result, err = _verify(capsys, path)
    assert status == 1 and result["ok"] is False and result["events"] == 0 and result["problem"]
    assert len(err.strip().splitlines()) == 1


def test_a_missing_file_is_refused_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, result, err = _verify(capsys, tmp_path / "nowhere.csv")
    assert status == 1 and not result["ok"] and "No such file" in result["problem"]


def test_a_header_that_claims_a_longer_ledger_than_it_holds_is_refused(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    head, _ = _split(ledger.full["jsonl"], "jsonl")
    _refused(*_verify(capsys, _write(tmp_path, "jsonl", head)), 1, "truncated")


@pytest.mark.parametrize(
    "columns",
    [
        "seq,occurred_at,type,tag,decision_id,purposes,notice_version,prev_hash,hash",
        "name,address,lon,lat",
        "seq,occurred_at,kind,tag,decision_id,purposes,notice_version,prev_hash,hash,canonical",
    ],
)
def test_a_csv_with_other_columns_is_refused(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str], columns: str
) -> None:
    head, events = _split(ledger.full["csv"], "csv")
    status, result, err = _verify(capsys, _write(tmp_path, "csv", [head[0], columns] + events))
    assert status == 1 and "wrong columns" in result["problem"] and result["first_bad_line"] == 2
    status, result, err = _verify(capsys, _write(tmp_path, "csv", [columns] + events))  # no header at all
    assert status == 1 and result["first_bad_line"] == 1 and "header" in result["problem"]


def test_a_header_less_export_of_version_1_is_refused(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, events = _split(ledger.full["jsonl"], "jsonl")
    status, result, _ = _verify(capsys, _write(tmp_path, "jsonl", events))
    assert status == 1 and "not an export header" in result["problem"]


def test_a_foreign_checkpoint_is_refused(ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A checkpoint of another ledger: validly signed by its own key, over another hash at the same position."""
    other = Ed25519PrivateKey.generate()
    public = checkpoints.public_bytes(other.public_key())
    key_id = checkpoints.key_id_of(public)
    document = checkpoints.checkpoint_document(EVENTS, bytes(range(32)), DAY1, key_id)
    foreign = checkpoints.SignedCheckpoint(
        seq=EVENTS,
        head_hash=bytes(range(32)),
        signed_at=DAY1,
        key_id=key_id,
        public_key=public,
        document=document,
        signature=other.sign(document.encode()),
    )
    saved = tmp_path / "foreign.json"
    saved.write_text(json.dumps(foreign.to_json()))
    path = _write(tmp_path, "jsonl", ledger.full["jsonl"].decode().splitlines())
    _refused(*_verify(capsys, path, "--checkpoint", str(saved)), EVENTS, "rewritten")
    pinned = ["--checkpoint", str(saved), "--public-key", str(ledger.public_key)]
    _refused(*_verify(capsys, path, *pinned), EVENTS, "trusted key")


def test_a_checkpoint_the_filtered_export_does_not_hold_is_refused(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "jsonl", ledger.subject_export.decode().splitlines())
    _refused(*_verify(capsys, path, *_anchored(ledger)), EVENTS, "does not contain event 8")


# --- the command line ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["export.jsonl", "--public-key", "abc"],
        ["export.jsonl", "--format", "csv"],
        ["export.jsonl", "--checkpoint"],
    ],
)
def test_usage_errors_exit_2_with_one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(["ledger", "verify-export", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("geo-offers: error:") and "--help)" in captured.err


def test_an_unreadable_checkpoint_file_is_a_refusal(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "jsonl", ledger.full["jsonl"].decode().splitlines())
    for content in (None, "hello", '{"seq": 1}'):
        saved = tmp_path / "checkpoints.json"
        saved.unlink(missing_ok=True)
        if content is not None:
            saved.write_text(content)
        status, result, err = _verify(capsys, path, "--checkpoint", str(saved))
        assert status == 1 and not result["ok"] and "--checkpoint" in result["problem"]
