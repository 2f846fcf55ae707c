"""Who was counted already this hour, known only as keyed hashes under a key that lives for that hour.

A figure may promise "at least k people" only when a person who asks n times in an hour adds one, not n. So the
counter asks this module, before it adds, whether the person was already counted in that figure this hour. What
it keeps to answer: a random key (``secrets.token_bytes``, never written, never derived from anything stored) and
the set of ``HMAC-SHA256(key, subject id)`` truncated to 64 bits, each combined with the figure it was counted
in. When the UTC hour changes, the key and the whole set are replaced by new, empty ones at once (the next count,
or the counter's next tick, whichever comes first: at most ``counter_flush_s`` late). Nothing here outlives the
hour or leaves the process: a hash of the hour cannot be linked to the same person's hash of another hour, nor
to the pseudonym in the consent tables (that one is keyed with the pepper).

Per figure and hour, one process therefore adds at most one per person. A person whose requests reach several
processes in the hour (uvicorn workers, instances) can be counted once by each: the bound across the service is
P, the number of processes that may count one person in an hour (``Settings.counting_processes``), and the
noise and the publication threshold are calibrated to P (``privacy.py``, ``releases.py``).

A collision of two 64-bit hashes makes the second person uncounted (never counted twice); memory is bounded by
``max_seen``, beyond which the first sighting of anyone goes uncounted until the hour ends: the bound is never
broken to keep counting.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable

KEY_BYTES = 32
_TAG_BITS = 64
#: The one activity "figure" a person is counted in per hour: all activity cells together.
_ACTIVITY = 0
_KIND_CODES = {"served": 1, "impression": 2, "click": 3, "redeem": 4}


class PersonHours:
    """The current hour's key and the (person, figure) pairs counted under it."""

    def __init__(self, max_seen: int = 5_000_000, random: Callable[[int], bytes] = secrets.token_bytes) -> None:
        self._random = random
        self._max_seen = max_seen
        self._hour: int | None = None
        self._key = b""
        self._seen: set[int] = set()
        self.rotations = 0
        self.refused = 0

    @property
    def seen(self) -> int:
        """How many (person, figure) pairs were counted this hour."""
        return len(self._seen)

    def rotate(self, hour: int) -> None:
        """Enter ``hour`` (whole hours since the epoch): a new key and an empty set when it is a new hour."""
        if hour != self._hour:
            self._hour = hour
            self._key = self._random(KEY_BYTES)
            self._seen = set()
            self.rotations += 1

    def tag(self, subject_id: str, hour: int) -> int:
        """The person's hash under the key of ``hour`` (the only form in which a subject id is kept here)."""
        self.rotate(hour)
        digest = hmac.new(self._key, subject_id.encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[: _TAG_BITS // 8], "big")

    def _first(self, entry: int) -> bool:
        if entry in self._seen:
            return False
        if len(self._seen) >= self._max_seen:
            self.refused += 1
            return False
        self._seen.add(entry)
        return True

    def first_in_deal(self, tag: int, deal_id: int, kind: str) -> bool:
        """Whether the person of ``tag`` is counted for (deal, kind) for the first time this hour (and now is)."""
        return self._first((tag << 70) | (deal_id << 3) | _KIND_CODES[kind])

    def first_in_activity(self, tag: int) -> bool:
        """Whether the person of ``tag`` is counted in any activity cell for the first time this hour."""
        return self._first((tag << 70) | _ACTIVITY)
