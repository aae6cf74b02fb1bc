"""The resume point's done set, as the server keeps it: a contiguous watermark plus sorted [start, end) ranges beyond it.
Thread-safe: a run's worker threads add to it and read it at once (the two range lists change together under a lock)."""
from __future__ import annotations

import bisect
import threading
from typing import Iterable, List, Tuple


class DoneSet:
    """Indices done: every index below ``watermark``, and each range in ``starts``/``ends`` (sorted, disjoint, non-adjacent)."""

    __slots__ = ("watermark", "_starts", "_ends", "_lock")

    def __init__(self, watermark: int = 0, flat_ranges: Iterable[int] = ()) -> None:
        self.watermark = watermark
        flat = list(flat_ranges)
        self._starts: List[int] = flat[0::2]
        self._ends: List[int] = flat[1::2]
        self._lock = threading.Lock()

    def __contains__(self, i: int) -> bool:
        if i < self.watermark:
            return True
        with self._lock:
            p = bisect.bisect_right(self._starts, i) - 1
            return p >= 0 and i < self._ends[p]

    def add(self, i: int) -> None:
        with self._lock:
            self._add(i)

    def _add(self, i: int) -> None:
        if i < self.watermark:
            return
        if i == self.watermark:
            self.watermark += 1
            # Fold in the first range once the gap below it is filled.
            if self._starts and self._starts[0] == self.watermark:
                self.watermark = self._ends[0]
                del self._starts[0], self._ends[0]
            return
        p = bisect.bisect_right(self._starts, i) - 1
        if p >= 0 and i < self._ends[p]:
            return
        joins_left = p >= 0 and self._ends[p] == i
        joins_right = p + 1 < len(self._starts) and self._starts[p + 1] == i + 1
        if joins_left and joins_right:
            self._ends[p] = self._ends[p + 1]
            del self._starts[p + 1], self._ends[p + 1]
        elif joins_left:
            self._ends[p] = i + 1
        elif joins_right:
            self._starts[p + 1] = i
        else:
            self._starts.insert(p + 1, i)
            self._ends.insert(p + 1, i + 1)

    def ranges(self) -> List[Tuple[int, int]]:
        with self._lock:
            return list(zip(self._starts, self._ends))

    def __len__(self) -> int:
        with self._lock:
            return self.watermark + sum(e - s for s, e in zip(self._starts, self._ends))
