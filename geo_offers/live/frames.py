"""The Server-Sent Events a live area stream sends, encoded once and shared by every stream that gets them.

Events: ``deal`` (a deal published or changed in the area, as the catalogue renders it), ``removed`` (a deal
that left it, and why), ``ready`` (the replay is done; live from here) and ``reload`` (fetch the catalogue again;
the stream ends). Several events of one change share its number; only the last carries the ``id``, so a client
cut off in the middle of them resumes before them, never after.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sse_starlette import ServerSentEvent

from geo_offers.matching.catalogue import deal_json
from geo_offers.matching.records import DealRecord

#: Why a deal left an area (``removed`` events): what the deal is now.
REASONS = ("paused", "ended", "draft", "used_up", "deleted", "elsewhere", "unavailable")


def _event(name: str, data: dict[str, Any]) -> bytes:
    return ServerSentEvent(orjson.dumps(data).decode(), event=name).encode()


def deal_event(record: DealRecord) -> bytes:
    """``deal``: the deal as the area catalogue renders it."""
    return _event("deal", deal_json(record))


def removed_event(deal_id: int, reason: str) -> bytes:
    """``removed``: the deal is no longer in the area's catalogue."""
    return _event("removed", {"deal_id": deal_id, "reason": reason})


def ready_event(seq: int, cell: str) -> bytes:
    """``ready``: everything up to change ``seq`` has been sent; what follows is live."""
    return with_id([_event("ready", {"cell": cell, "seq": seq})], seq)


def reload_event(reason: str) -> bytes:
    """``reload`` (no id): fetch the catalogue again and reconnect with its ``Change-Seq``; the stream ends."""
    return _event("reload", {"reason": reason})


def with_id(events: Sequence[bytes], seq: int) -> bytes:
    """The events of change ``seq`` as one chunk, the last of them carrying the id."""
    return b"".join(events[:-1]) + f"id: {seq}\r\n".encode() + events[-1]
