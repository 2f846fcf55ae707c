"""A compressed sparse row table: sorted compacted H3 cells, their entry offsets, and the deal slots of each."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

EMPTY = np.zeros(0, dtype=np.int32)
CHUNK = 1 << 20

Slots = npt.NDArray[np.int32]


class Csr:
    """Sorted compacted cells, their entry offsets, and the slots of each cell."""

    __slots__ = ("cells", "starts", "slots")

    def __init__(self, keys: npt.NDArray[np.uint64], slot_bits: int) -> None:
        """From sorted, unique ``compacted cell << slot_bits | slot`` keys (read in chunks: few temporaries)."""
        code_dtype = np.uint32 if 64 - slot_bits <= 32 else np.uint64
        shift, mask = np.uint64(slot_bits), np.uint64((1 << slot_bits) - 1)
        self.slots: Slots = np.empty(len(keys), dtype=np.int32)
        cells, begins = [], []
        previous = None
        for at in range(0, len(keys), CHUNK):
            chunk = keys[at : at + CHUNK]
            self.slots[at : at + len(chunk)] = chunk & mask
            codes = (chunk >> shift).astype(code_dtype)
            first = np.flatnonzero(np.diff(codes)) + 1
            if previous is None or codes[0] != previous:
                first = np.concatenate(([0], first))
            cells.append(codes[first])
            begins.append(first + at)
            previous = codes[-1]
        self.cells = np.concatenate(cells) if cells else np.zeros(0, dtype=code_dtype)
        self.starts = np.concatenate((*begins, [len(keys)])).astype(np.int64)

    @classmethod
    def of(cls, cells: npt.NDArray[np.generic], starts: npt.NDArray[np.int64], slots: Slots) -> Csr:
        """A table over arrays made before (such as read-only views of a mapped snapshot)."""
        table = cls.__new__(cls)
        table.cells, table.starts, table.slots = cells, starts, slots
        return table

    def __len__(self) -> int:
        return len(self.slots)

    def exact(self, code: int) -> Slots:
        """The slots of one compacted cell."""
        i = int(np.searchsorted(self.cells, self.cells.dtype.type(code)))
        if i < len(self.cells) and int(self.cells[i]) == code:
            return self.slots[self.starts[i] : self.starts[i + 1]]
        return EMPTY

    def between(self, low: int, high: int) -> Slots:
        """The slots of every compacted cell in [low, high) (may repeat a slot)."""
        i, j = np.searchsorted(self.cells, np.array((low, high), dtype=self.cells.dtype))
        return self.slots[self.starts[i] : self.starts[j]]

    def pairs(self, slot_bits: int) -> npt.NDArray[np.uint64]:
        """Back to sorted keys (for a rebuild)."""
        codes = np.repeat(self.cells.astype(np.uint64), np.diff(self.starts))
        return (codes << np.uint64(slot_bits)) | self.slots.astype(np.uint64)
