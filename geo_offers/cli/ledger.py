"""``geo-offers ledger``: sign checkpoints (once or periodically), make a signing key, verify an export offline."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.errors import Conflict, InvalidInput
from consent.ledger import checkpoints, export
from geo_offers.compliance.signing import signing_key
from geo_offers.kit.clock import utc_now
from geo_offers.kit.database import open_database
from geo_offers.settings import Settings

EXIT_INVALID = 1


def register(groups: Any) -> None:
    """Add the ``ledger`` command group."""
    ledger = groups.add_parser("ledger", help="consent ledger integrity").add_subparsers(dest="action", required=True)
    cp = ledger.add_parser(
        "checkpoint",
        help="verify the events since the last checkpoint and sign the chain head; prints the checkpoint as JSON",
        description="Signs with the Ed25519 key of GEO_OFFERS_LEDGER_SIGNING_KEY_FILE or GEO_OFFERS_LEDGER_SIGNING_KEY "
        "(never stored in the database). With --every it keeps running and signs whenever the ledger has grown: "
        "run it under a process supervisor, or call it without --every from cron.",
    )
    cp.add_argument("--force", action="store_true", help="sign even if the head is signed already")
    cp.add_argument("--every", type=float, default=None, metavar="SECONDS", help="repeat every SECONDS")
    cp.add_argument("--times", type=int, default=None, help=argparse.SUPPRESS)  # bounds --every in tests
    cp.set_defaults(handler=_checkpoint)

    keygen = ledger.add_parser("keygen", help="write a new Ed25519 signing key (mode 0600); prints the public key")
    keygen.add_argument("file", type=Path)
    keygen.set_defaults(handler=_keygen)

    ve = ledger.add_parser(
        "verify-export",
        help="check an export of GET /v1/audit/consent-events/export offline",
        description="Recomputes every event's hash from its canonical text and checks that consecutive events "
        "link. With --checkpoint (a checkpoint, a list, or a saved page of GET /v1/audit/ledger/checkpoints) the "
        "export must contain each checkpoint's event with the signed hash, so a rewritten ledger is caught; "
        "--public-key pins the published signing key. Exit status 0 when valid, 1 otherwise.",
    )
    ve.add_argument("file", type=Path)
    ve.add_argument("--format", choices=("csv", "jsonl"), default=None, help="default: from the file")
    ve.add_argument("--checkpoint", type=Path, default=None, metavar="FILE")
    ve.add_argument("--public-key", default=None, metavar="KEY", help="PEM file, or the key in hex or base64")
    ve.set_defaults(handler=_verify_export)


def _sign_once(settings: Settings, key: Ed25519PrivateKey, force: bool) -> None:
    with open_database(settings) as db, db.transaction() as session:
        signed = checkpoints.create(session, key, utc_now(), force=force)
    if signed is None:
        print("the chain head is signed already; nothing to do", file=sys.stderr)
        return
    print(json.dumps(signed.to_json()), flush=True)
    print(f"signed seq {signed.seq} with key {signed.key_id}", file=sys.stderr)


def _checkpoint(args: argparse.Namespace) -> int:
    settings = Settings()
    key = signing_key(settings)
    if args.every is None:
        _sign_once(settings, key, args.force)
        return 0
    runs = 0
    while args.times is None or runs < args.times:
        try:
            _sign_once(settings, key, args.force)
        except Conflict as error:  # an empty ledger now is fine later; a broken chain is reported each time
            print(f"error: {error.detail}", file=sys.stderr, flush=True)
        runs += 1
        if args.times is None or runs < args.times:
            time.sleep(args.every)
    return 0


def _keygen(args: argparse.Namespace) -> int:
    path: Path = args.file
    if path.exists():
        raise Conflict(f"{path} exists; refusing to overwrite a signing key")
    key = Ed25519PrivateKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(checkpoints.private_pem(key))
    print(checkpoints.public_pem(key), end="")
    public = checkpoints.public_bytes(key.public_key())
    print(f"key id {checkpoints.key_id_of(public)}; publish the public key above", file=sys.stderr)
    return 0


def _public_key(value: str) -> bytes:
    path = Path(value)
    data = path.read_bytes() if path.is_file() else value.encode("utf-8")
    try:
        return checkpoints.load_public_key(data)
    except ValueError as error:
        raise InvalidInput(f"--public-key: {error}") from error


def _verify_export(args: argparse.Namespace) -> int:
    trusted = _public_key(args.public_key) if args.public_key else None
    anchors: list[checkpoints.SignedCheckpoint] = []
    if args.checkpoint is not None:
        try:
            anchors = checkpoints.parse_checkpoints(args.checkpoint.read_bytes())
        except ValueError as error:
            raise InvalidInput(f"--checkpoint: {error}") from error
    check = export.verify_records(export.read_records(args.file, args.format), anchors, trusted)
    summary = {
        "ok": check.ok,
        "events": check.events,
        "first_seq": check.first_seq,
        "last_seq": check.last_seq,
        "segments": check.segments,
        "from_genesis": check.from_genesis,
        "checkpoints_matched": check.checkpoints_matched,
        "anchored_through": check.anchored_through,
        "key_pinned": trusted is not None,
        "first_bad_seq": check.first_bad_seq,
        "problem": check.problem,
    }
    print(json.dumps(summary))
    if not check.ok:
        print(f"INVALID at seq {check.first_bad_seq}: {check.problem}", file=sys.stderr)
        return EXIT_INVALID
    if anchors and trusted is None:
        print("warning: checkpoints were checked against their own keys; pin the published key", file=sys.stderr)
    return 0
