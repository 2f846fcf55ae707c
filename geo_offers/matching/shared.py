"""One deal index per machine: built by one process into a snapshot file, mapped read-only by every worker.

Whoever needs an index (a worker starting, or one whose index needs a rebuild) takes an exclusive ``flock`` on the
snapshot's lock file and, holding it, either maps the snapshot already there or, when none fits, loads the deals
from the database (in a short-lived child process), writes a new snapshot (``geo_offers.matching.snapshot``) and
maps that. The other workers wait
on the lock meanwhile and then map what the first one wrote, so the database is read once per machine, and a
rebuild wanted by every worker at about the same time happens once.

A snapshot is used only when all of these hold, else it is rebuilt:
- its format version is this code's (``snapshot.FORMAT``);
- it was made from this database: the cluster's system identifier, the database's name and OID (a database
  dropped and created again under the same name has another OID), the schema revision and the index resolution;
- its ``seq`` (the last deal-changing transaction its load saw) can still be continued from ``deal_changes``:
  either no change came after it, or the change right after it is still in the table (not pruned);
- when a worker asks for a *newer* index (its own needs a rebuild, or changes it needs were pruned), the snapshot
  is newer than the one that worker has.
Each worker then applies the changes after the snapshot's ``seq`` on its own, as before. The snapshot outlives the
service (it is kept in a runtime directory), so a restart maps it, checks it as above and catches up from
``deal_changes``: ready in seconds instead of a full load.

The snapshot holds deal data only (deals, their stores' public names, addresses and positions, coverage cells,
offer JSON); no subject, consent or request data is ever in the index. The directory is created with mode 700
and refused when it belongs to another user or is open to others.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import multiprocessing
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from geo_offers.kit.database import Database
from geo_offers.matching import snapshot
from geo_offers.matching.index import DealIndex
from geo_offers.matching.source import Connect, load_index
from geo_offers.settings import Settings

log = logging.getLogger(__name__)
_PLAIN = re.compile(r"[A-Za-z0-9_]{1,63}")

_IDENTITY = """
SELECT (SELECT system_identifier FROM pg_control_system())::text AS system,
       current_database() AS database,
       (SELECT oid FROM pg_database WHERE datname = current_database())::bigint AS oid,
       (SELECT version_num FROM alembic_version LIMIT 1) AS revision
"""
_CONTINUES = """
SELECT h.seq AS head, EXISTS (SELECT 1 FROM deal_changes WHERE seq = %(next)s) AS continues FROM deal_change_head h
"""


@dataclass(frozen=True, slots=True)
class Identity:
    """What a snapshot must have been made from to be used."""

    system: str
    database: str
    oid: int
    revision: str
    res: int

    def stem(self) -> str:
        """What the snapshot files of this database's name and this resolution start with."""
        name = self.database if _PLAIN.fullmatch(self.database) else hashlib.sha256(self.database.encode()).hexdigest()
        return f"deals-{name[:40]}-r{self.res}-"

    def filename(self) -> str:
        """The snapshot file of exactly this identity."""
        return self.stem() + hashlib.sha256(orjson.dumps(asdict(self))).hexdigest()[:20] + ".idx"


def default_directory() -> Path:
    """Where snapshots live by default: the XDG runtime directory, else /dev/shm, else the temporary directory."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "geo-offers"
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm / f"geo-offers-{os.getuid()}"
    return Path(tempfile.gettempdir()) / f"geo-offers-{os.getuid()}"


def private_directory(path: Path) -> Path:
    """Create ``path`` (mode 700) if needed; refuse it when another user owns it or others may use it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(f"{path} must belong to this user and be closed to others (mode 700)")
    return path


def _remove_superseded(path: Path, identity: Identity) -> None:
    """Drop the snapshots of a database of the same name made before it was created again or migrated (they
    would never fit again and hold memory on a tmpfs); processes that mapped one keep it until they let go."""
    for other in path.parent.glob(identity.stem() + "*.idx"):
        if other != path:
            other.unlink(missing_ok=True)
            other.with_name(other.name + ".lock").unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the descriptor closes, also if the process dies
        yield
    finally:
        os.close(fd)


def _build_snapshot(settings: Settings, path: Path, identity: Identity, cutoff: datetime) -> None:
    """Load the deals and write them as a snapshot (in a process of its own: see ``SnapshotStore._build``)."""
    db = Database(settings)
    try:
        index, seq = load_index(db.reading, identity.res, cutoff)
    finally:
        db.dispose()
    arrays, meta = index.parts()
    about = {"identity": asdict(identity), "seq": seq, "index": meta, "built_at": datetime.now(UTC).isoformat()}
    snapshot.write(path, arrays, about)


class SnapshotStore:
    """Gives a worker a complete index: a fitting snapshot mapped, or a new one built, written and mapped."""

    def __init__(self, directory: Path, settings: Settings, connect: Connect) -> None:
        self._directory = directory
        self._settings = settings
        self._connect = connect  # where the index is read: the read database, or the primary
        self._res = settings.index_res
        self.builds = 0  # indexes this process loaded from the database (and wrote as a snapshot)
        self.maps = 0  # snapshots this process mapped, its own or another's
        self.path: Path | None = None  # the snapshot last mapped

    def identity(self) -> Identity:
        """The identity of the database the engine reaches."""
        with self._connect() as conn:
            row = conn.exec_driver_sql(_IDENTITY).mappings().one()
        return Identity(str(row["system"]), row["database"], int(row["oid"]), str(row["revision"]), self._res)

    def _continues(self, seq: int) -> bool:
        with self._connect() as conn:
            row = conn.exec_driver_sql(_CONTINUES, {"next": seq + 1}).mappings().one()
        head = int(row["head"])
        return seq == head or (seq < head and bool(row["continues"]))

    def _fits(self, about: dict[str, Any], identity: Identity, newer_than: int | None) -> bool:
        if about.get("identity") != asdict(identity):
            return False
        seq = about.get("seq")
        if not isinstance(seq, int) or (newer_than is not None and seq <= newer_than):
            return False
        return self._continues(seq)

    def obtain(self, cutoff: datetime, newer_than: int | None = None) -> tuple[DealIndex, int]:
        """A complete index and its ``seq`` (blocking: run it in a thread).

        ``newer_than``: the ``seq`` of the index the caller has and wants replaced; None at start.
        """
        identity = self.identity()
        directory = private_directory(self._directory)
        path = directory / identity.filename()
        with _locked(path.with_name(path.name + ".lock")):
            header = snapshot.read_header(path)
            if header is None or not self._fits(header.get("about", {}), identity, newer_than):
                for stale in directory.glob(f".{path.name}.*.tmp"):  # of a build that was killed (we hold the lock)
                    stale.unlink(missing_ok=True)
                self._build(path, identity, cutoff)
                _remove_superseded(path, identity)
            return self._map(path)

    def _build(self, path: Path, identity: Identity, cutoff: datetime) -> None:
        """Build in a short-lived process of its own: the load's peak (rows, sort buffers) and what the allocator
        keeps of it afterwards never stay in a worker, which only maps the file."""
        child = multiprocessing.get_context("spawn").Process(
            target=_build_snapshot,
            args=(self._settings, path, identity, cutoff),
            name="geo-offers-index-build",
            daemon=True,  # ends with the worker (a stopped worker does not wait minutes for a build)
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"building the deal index snapshot failed (exit status {child.exitcode})")
        self.builds += 1
        log.info("deal index snapshot written", extra={"path": str(path)})

    def _map(self, path: Path) -> tuple[DealIndex, int]:
        header, arrays = snapshot.open_mapped(path)
        about = header["about"]
        index = DealIndex.from_parts(arrays, about["index"])
        self.maps += 1
        self.path = path
        return index, int(about["seq"])
