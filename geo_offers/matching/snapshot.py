"""A deal index snapshot: one file holding a frozen index's arrays, written once and mapped read-only by every worker.

Layout: 8 bytes of magic, the header's length (8 bytes, little-endian), the header (JSON: the format version, what
the snapshot was made from, and each array's dtype, length and offset), then the arrays, each aligned to 64 bytes,
from the first page boundary after the header. A reader maps the whole file with ``mmap.ACCESS_READ`` and takes
numpy views of it: no copy, and the pages are the same memory in every process that maps the file (tmpfs page
cache), so each worker's proportional set size carries only its share. Writing to those views raises.

The file holds what the index holds and nothing else: deals, their stores' names, addresses and positions, their
coverage cells and validity, pre-rendered offer JSON. No subject, consent or request data ever enters the index.

A snapshot is written to a temporary name in the same directory and renamed over the old one (``os.replace``),
so a reader sees either the old file or the new one, whole; processes that mapped the old file keep it until they
drop their mapping.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

MAGIC = b"GEOIDX\x00\x01"
#: Bumped whenever the layout or the meaning of any array changes: older files are then not used.
FORMAT = 2
_ALIGN = 64
_PAGE = 4096
_PREFIX = struct.Struct("<8sQ")
_MAX_HEADER = 64 << 20


class SnapshotError(Exception):
    """The file is not a snapshot of this format (or is cut short)."""


def _round_up(value: int, to: int) -> int:
    return (value + to - 1) // to * to


def write(path: Path, arrays: dict[str, npt.NDArray[Any]], about: dict[str, Any]) -> None:
    """Write ``arrays`` and ``about`` (JSON-able) as a snapshot at ``path``, replacing any file there at once."""
    layout: dict[str, list[Any]] = {}
    offset = 0
    for name, values in arrays.items():
        layout[name] = [values.dtype.str, len(values), offset]
        offset += _round_up(values.nbytes, _ALIGN)
    header = orjson.dumps({"format": FORMAT, "about": about, "arrays": layout})
    data_at = _round_up(_PREFIX.size + len(header), _PAGE)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(_PREFIX.pack(MAGIC, len(header)) + header)
            for name, values in arrays.items():
                out.seek(data_at + layout[name][2])
                if values.nbytes:
                    out.write(np.ascontiguousarray(values).data.cast("B"))
            out.truncate(data_at + offset)
        os.replace(temporary, path)  # tmpfs: nothing to fsync; a crash loses the file, and a new one is built
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_header(path: Path) -> dict[str, Any] | None:
    """The header of the snapshot at ``path``; None when there is none or it is not of this format."""
    try:
        with path.open("rb") as handle:
            magic, length = _PREFIX.unpack(handle.read(_PREFIX.size))
            if magic != MAGIC or length > _MAX_HEADER:
                return None
            header: dict[str, Any] = orjson.loads(handle.read(length))
    except (OSError, struct.error, orjson.JSONDecodeError):
        return None
    return header if header.get("format") == FORMAT else None


def open_mapped(path: Path) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """Map the snapshot read-only: its header and its arrays as read-only views of the mapping.

    The mapping lives as long as any of the arrays does; the file may be replaced or removed meanwhile.
    """
    with path.open("rb") as handle:
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    arrays: dict[str, npt.NDArray[Any]] = {}
    try:
        magic, length = _PREFIX.unpack_from(mapping, 0)
        if magic != MAGIC or length > _MAX_HEADER:
            raise SnapshotError(f"{path} is not a deal index snapshot")
        header: dict[str, Any] = orjson.loads(mapping[_PREFIX.size : _PREFIX.size + length])
        if header.get("format") != FORMAT:
            raise SnapshotError(f"{path} is of format {header.get('format')}, not {FORMAT}")
        data_at = _round_up(_PREFIX.size + length, _PAGE)
        for name, (dtype, count, offset) in header["arrays"].items():
            kind = np.dtype(dtype)
            end = data_at + offset + kind.itemsize * count
            if end > len(mapping):
                raise SnapshotError(f"{path} is cut short")
            arrays[name] = np.frombuffer(mapping, dtype=kind, count=count, offset=data_at + offset)
        # Fault every page in now (one byte a page: well under a second for a million deals), so that requests
        # never stop on page faults and the memory a worker shows is all it will use.
        int(np.frombuffer(mapping, dtype=np.uint8)[::_PAGE].sum())
    except (struct.error, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        arrays.clear()
        with contextlib.suppress(BufferError):
            mapping.close()
        raise SnapshotError(f"{path} is not a readable snapshot: {exc}") from exc
    return header, arrays
