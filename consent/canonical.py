"""Canonical JSON and the chain hash: the exact bytes that notices and ledger events are hashed over.

Canonical form: UTF-8, object keys sorted, no insignificant whitespace, no floats (times are ISO 8601 strings
in UTC with microseconds and a ``Z``). Anyone can recompute a hash offline from an export with these rules.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS = bytes(32)


def canonical_json(document: Any) -> str:
    """The canonical text of a JSON-compatible document."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def chain_hash(prev_hash: bytes, canonical: str) -> bytes:
    """``SHA-256(prev_hash || canonical)``, as the ledger and its database trigger compute it."""
    return hashlib.sha256(prev_hash + canonical.encode("utf-8")).digest()


def iso(moment: datetime) -> str:
    """A timestamp in the canonical form: UTC, microseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    """The inverse of :func:`iso`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
