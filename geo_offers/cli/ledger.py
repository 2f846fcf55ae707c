"""geo-offers ledger: make a signing key, show its public half, sign checkpoints, verify an export offline."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent.errors import Conflict
from consent.ledger import checkpoints
from consent.ledger.export_check import ExportCheck, verify_file
from geo_offers.compliance.signing import signing_key
from geo_offers.kit.clock import utc_now
from geo_offers.kit.database import open_database
from geo_offers.settings import Settings

EXIT_INVALID = 1

group = typer.Typer(name="ledger", help="Consent ledger integrity: signing keys, checkpoints, exports.")
group.info.no_args_is_help = True


@group.command("keygen")
def keygen(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="Where to write the new private key (refused if it exists).")
    ],
) -> int:
    """Make a new signing key; prints its public key.

    Writes an Ed25519 private key (file mode 0600) and prints the public key (PEM) to publish.
    """
    if file.exists():
        raise Conflict(f"{file} exists; refusing to overwrite a signing key")
    key = Ed25519PrivateKey.generate()
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(checkpoints.private_pem(key))
    print(checkpoints.public_pem(key), end="")
    public = checkpoints.public_bytes(key.public_key())
    print(f"key id {checkpoints.key_id_of(public)}; publish the public key above", file=sys.stderr)
    return 0


@group.command("public-key")
def public_key() -> int:
    """Print the public key of the configured signing key.

    The PEM to publish, or to pin with verify-export --public-key.
    """
    key = signing_key(Settings())
    print(checkpoints.public_pem(key), end="")
    print(f"key id {checkpoints.key_id_of(checkpoints.public_bytes(key.public_key()))}", file=sys.stderr)
    return 0


def _sign_once(settings: Settings, key: Ed25519PrivateKey, force: bool) -> None:
    with open_database(settings) as database, database.transaction() as session:
        signed = checkpoints.create(session, key, utc_now(), force=force)
    if signed is None:
        print("the chain head is signed already; nothing to do", file=sys.stderr)
        return
    print(json.dumps(signed.to_json()), flush=True)
    print(f"signed seq {signed.seq} with key {signed.key_id}", file=sys.stderr)


@group.command(
    "checkpoint",
    epilog="The key comes from GEO_OFFERS_LEDGER_SIGNING_KEY_FILE or GEO_OFFERS_LEDGER_SIGNING_KEY and never enters "
    "the database. With --every it keeps running: run it under a process supervisor, or call it without --every "
    "from cron.",
)
def checkpoint(
    force: Annotated[bool, typer.Option("--force", help="Sign even if the chain head is signed already.")] = False,
    every: Annotated[
        float | None,
        typer.Option(min=0, metavar="SECONDS", help="Keep running; sign every SECONDS whenever the ledger grew."),
    ] = None,
    times: Annotated[int | None, typer.Option(hidden=True, help="Stop --every after this many rounds (tests).")] = None,
) -> int:
    """Sign the ledger's head; prints the checkpoint as JSON.

    Verifies the events since the last checkpoint first, so a broken chain is never signed.
    """
    settings = Settings()
    key = signing_key(settings)
    if every is None:
        _sign_once(settings, key, force)
        return 0
    runs = 0
    while times is None or runs < times:
        try:
            _sign_once(settings, key, force)
        except Conflict as error:  # an empty ledger now is fine later; a broken chain is reported each time
            print(f"geo-offers: error: {error.detail}", file=sys.stderr, flush=True)
        runs += 1
        if times is None or runs < times:
            time.sleep(every)
    return 0


def _load_checkpoints(path: Path) -> list[checkpoints.SignedCheckpoint]:
    try:
        return checkpoints.parse_checkpoints(path.read_bytes())
    except OSError as error:
        raise ValueError(f"--checkpoint {path}: {error.strerror or error}") from error
    except ValueError as error:  # orjson's decode error is a ValueError too
        raise ValueError(f"--checkpoint {path}: {error}") from error


def _load_public_key(value: str) -> bytes:
    path = Path(value)
    try:
        return checkpoints.load_public_key(path.read_bytes() if path.is_file() else value.encode("utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"--public-key: {error}") from error


@group.command(
    "verify-export",
    epilog="Exit status 0 when the export holds what it says, 1 when it does not or cannot be checked (the JSON "
    "answer names the reason and the first bad sequence number and line), 2 on a wrong command line.",
)
def verify_export(
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", help="An export of GET /v1/audit/consent-events/export (CSV or JSON lines)."),
    ],
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Signed checkpoints (one, a list, or a saved page of GET /v1/audit/ledger/checkpoints); the "
            "export must hold each one's event with the signed hash.",
        ),
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option(
            metavar="KEY",
            help="The published public key the checkpoints must be signed with: a PEM file, or the key in hex or "
            "base64. Needs --checkpoint.",
        ),
    ] = None,
) -> int:
    """Check a ledger export offline; prints a JSON answer.

    Needs no database: checks every event's hash and link, and what the export's header says it holds.

    A full export must run from event 1 to the head its header names, with no gap. A filtered export is checked
    event by event and in order; it cannot prove that no event is missing, and the answer says so. With
    --checkpoint a rewritten ledger is caught.
    """
    if public_key is not None and checkpoint is None:
        raise typer.BadParameter("pins the key of checkpoints; give --checkpoint too", param_hint="--public-key")
    try:
        trusted = _load_public_key(public_key) if public_key is not None else None
        anchors = _load_checkpoints(checkpoint) if checkpoint is not None else []
    except ValueError as error:
        check = ExportCheck().fail(str(error))
    else:
        check = verify_file(file, anchors, trusted)
    print(json.dumps({**check.summary(), "key_pinned": public_key is not None}))
    if not check.ok:
        where = f" at seq {check.first_bad_seq}" if check.first_bad_seq is not None else ""
        line = f" (line {check.first_bad_line})" if check.first_bad_line is not None else ""
        print(f"INVALID{where}{line}: {check.problem}", file=sys.stderr)
        return EXIT_INVALID
    for note in check.notes:
        print(f"note: {note}", file=sys.stderr)
    if anchors and trusted is None:
        print("warning: checkpoints were checked against their own keys; pin the published key", file=sys.stderr)
    return 0
