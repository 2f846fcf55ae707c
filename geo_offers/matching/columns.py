"""Per-deal columns and byte pools in two parts: a base, which may be a read-only view of a mapped snapshot shared
by every worker of the machine, and a small private tail of what this worker added after the base was made."""

from __future__ import annotations

from typing import Any, overload

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
Bytes = bytes | bytearray | memoryview | npt.NDArray[np.uint8]


class Column:
    """Values by slot: slots below ``len(base)`` read the base, later ones the private tail.

    Reading takes what a numpy array takes (an int, a list or an array of slots); writing only adds slots at the end.
    """

    __slots__ = ("base", "tail", "tail_size", "_n")

    def __init__(self, dtype: npt.DTypeLike, base: Array | None = None) -> None:
        self.base: Array = np.zeros(0, dtype=dtype) if base is None else base
        self._n = len(self.base)
        self.tail: Array = np.zeros(0, dtype=self.base.dtype)
        self.tail_size = 0

    def __len__(self) -> int:
        return self._n + self.tail_size

    @overload
    def __getitem__(self, slots: int | np.integer[Any]) -> Any: ...

    @overload
    def __getitem__(self, slots: Array | list[int]) -> Array: ...

    def __getitem__(self, slots: int | np.integer[Any] | Array | list[int]) -> Any:
        if not self.tail_size:
            return self.base[slots]
        n = self._n
        if isinstance(slots, int | np.integer):
            return self.base[slots] if slots < n else self.tail[int(slots) - n]
        picked = np.asarray(slots, dtype=np.int64)
        later = picked >= n
        if not later.any():
            return self.base[picked]
        out = np.empty(len(picked), dtype=self.base.dtype)
        early = ~later
        out[early] = self.base[picked[early]]
        out[later] = self.tail[picked[later] - n]
        return out

    def extend(self, values: Array | list[Any]) -> None:
        """Add the values of the next ``len(values)`` slots."""
        count = len(values)
        if self.tail_size + count > len(self.tail):
            grown = np.zeros(max(1024, 2 * len(self.tail), self.tail_size + count), dtype=self.tail.dtype)
            grown[: self.tail_size] = self.tail[: self.tail_size]
            self.tail = grown
        self.tail[self.tail_size : self.tail_size + count] = values
        self.tail_size += count

    def merged(self) -> Array:
        """Base and tail as one private array (the tail's spare room handed back when there is no base)."""
        if not self._n:
            tail = self.tail
            if tail.flags.owndata:
                tail.resize(self.tail_size, refcheck=False)
                return tail
            return tail[: self.tail_size].copy()
        return np.concatenate((self.base, self.tail[: self.tail_size]))


def private_copy(values: Array, capacity: int) -> Array:
    """A writable copy of ``values`` with room for ``capacity`` entries."""
    out = np.zeros(max(capacity, len(values)), dtype=values.dtype)
    out[: len(values)] = values
    return out


def as_bytes(pool: Bytes) -> memoryview:
    """A pool (bytes, bytearray or a uint8 array over a mapping) as a memoryview of bytes."""
    if isinstance(pool, np.ndarray):
        return pool.data.cast("B")
    return pool if isinstance(pool, memoryview) else memoryview(pool)
