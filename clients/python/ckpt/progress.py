"""Progress for people: a line printer with rate and ETA, and a tqdm bar that follows a run (tqdm is optional)."""
from __future__ import annotations

import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from .run import Run


def format_line(stage: str, done: int, total: Optional[int], rate: Optional[float]) -> str:
    """``fetch: 1,234/10,000 (12.3%) 456/s ETA 0:00:19``"""
    parts = [f"{stage}: {done:,}" + (f"/{total:,} ({100 * done / total:.1f}%)" if total else "")]
    if rate:
        parts.append(f"{rate:,.0f}/s")
        if total and done < total:
            s = int((total - done) / rate)
            parts.append(f"ETA {s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}")
    return " ".join(parts)


class ProgressPrinter:
    """Prints one line about a run's durable progress at most every ``every`` seconds (and once when closed).

    >>> with stage.begin(total=n) as run, ProgressPrinter(run):
    ...     for i in run.todo(n): run.mark(i)
    """

    def __init__(self, run: "Run", *, every: float = 2.0, file: Optional[IO[str]] = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.run = run
        self.every = every
        self.file = file if file is not None else sys.stderr
        self._clock = clock
        self._start = (clock(), run.counters["processed"])
        self._last = -float("inf")
        self._lock = threading.Lock()
        self.lines = 0
        self._off = run.add_listener(lambda r: self.tick())

    def tick(self, force: bool = False) -> None:
        now = self._clock()
        with self._lock:
            if not force and now - self._last < self.every:
                return
            self._last = now
            done = self.run.counters["processed"]
            elapsed = now - self._start[0]
            rate = (done - self._start[1]) / elapsed if elapsed > 0 else None
            self.file.write(format_line(self.run.stage.name, done, self.run.total, rate) + "\n")
            self.file.flush()
            self.lines += 1

    def close(self) -> None:
        self._off()
        self.tick(force=True)

    def __enter__(self) -> "ProgressPrinter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tqdm_bar(run: "Run", **kwargs: Any) -> Any:
    """A ``tqdm`` bar starting at what is already done, moved after each durable batch."""
    try:
        from tqdm import tqdm  # type: ignore[import-not-found]
    except ImportError as e:
        raise ImportError("run.tqdm() needs tqdm, which ckpt-client does not install: pip install tqdm (or use ckpt.ProgressPrinter).") from e
    bar = tqdm(total=run.total, initial=run.counters["processed"], desc=run.stage.name, **kwargs)

    def follow(r: "Run") -> None:
        bar.n = r.counters["processed"]
        bar.refresh()

    off = run.add_listener(follow)
    close = bar.close

    def closing() -> None:
        off()
        follow(run)
        close()

    bar.close = closing
    return bar
