"""A run: one worker's updates to a stage, batched in order through one background sender, its lease kept alive.

Every update goes through one ordered queue, so a ``complete`` can never overtake the items marked
before it. ``mark()`` returns at once (the queue is bounded: past ``max_queue`` it blocks);
``done()``, ``flush()`` and the lifecycle calls return once the sidecar has made them durable. A batch
the sidecar refuses is remembered: every later call raises that error (nothing in it was written).
"""
from __future__ import annotations

import collections
import json
import math
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, Iterable, Iterator, List, Optional, Tuple, Type, Union

from ._doneset import DoneSet
from .errors import CkptBadTransition, CkptClosed, CkptError, CkptInvalid, CkptLeaseLost, CkptNotFound, CkptTooLarge, Interrupted

if TYPE_CHECKING:
    from .client import Stage

#: The sidecar refuses bodies over 1 MiB; a checkpoint's JSON must fit in one with room to spare.
MAX_CHECKPOINT_JSON = 1024 * 1024 - 4096
MAX_LABEL = 2048


@dataclass(frozen=True)
class ResumeInfo:
    """What begin() found: the status before, whether the last run crashed, how many items it will skip."""

    from_status: str
    crashed: bool
    skipped: int
    reopened: int
    restarted: bool
    message: str


@dataclass(frozen=True)
class ResumePoint:
    """Every index below ``watermark`` is done, and every ``start <= i < end`` of ``ranges``."""

    watermark: int
    ranges: List[Tuple[int, int]]


Listener = Callable[["Run"], None]


class Run:
    """Returned by ``stage.begin()``; use it as a context manager (see ``__exit__``)."""

    def __init__(self, stage: "Stage", begin_body: Dict[str, Any], response: Dict[str, Any], *, batch_size: int, max_queue: int, pause_on_exit: bool, senders: int = 2) -> None:
        self.stage = stage
        self._http = stage.client._http
        self._begin_body = begin_body
        self.shared = bool(begin_body.get("join"))
        self.pause_on_exit = pause_on_exit
        self._batch_size = batch_size
        self._max_queue = max_queue
        self._cond = threading.Condition()
        self._pending: Deque[Dict[str, Any]] = collections.deque()
        self._enqueued = 0
        self._acked = 0
        self._error: Optional[CkptError] = None
        self._stopping = False
        self._ended = False
        self._barrier = False
        self._inflight = 0
        self._taken = 0
        self._finished: Dict[int, int] = {}
        self._revision = -1
        self._listeners: List[Listener] = []
        self._rebind_lock = threading.Lock()
        self._last_contact = time.monotonic()
        self._adopt(response)
        r = response["resumed"]
        self.resumed = ResumeInfo(r["from"], r["crashed"], r["skipped"], r["reopened"], r["restarted"], r["message"])
        resume = response["state"]["resume"]
        self._done = DoneSet(resume["watermark"], resume["ranges"])
        #: How many times the run was begun again after the sidecar lost it (restart, lease lapse).
        self.rebinds = 0
        self._senders = [threading.Thread(target=self._send_loop, name=f"ckpt-sender-{stage.name}-{k}", daemon=True) for k in range(senders)]
        for t in self._senders:
            t.start()
        self._stop_renewing = threading.Event()
        self._renewer = threading.Thread(target=self._renew_loop, name=f"ckpt-lease-{stage.name}", daemon=True)
        self._renewer.start()
        self._old_handlers: Dict[int, Any] = {}

    def _adopt(self, response: Dict[str, Any]) -> None:
        self.id: str = response["runId"]
        self.joined: bool = response["joined"]
        self.lease_ms: int = response["leaseMs"]
        self.state: Dict[str, Any] = response["state"]
        self.counters: Dict[str, int] = dict(self.state["counters"])
        self.total: Optional[int] = self.state.get("total")
        self.status: str = self.state["status"]

    # ---- reading ----

    def is_done(self, index: int) -> bool:
        """Was ``index`` recorded, by this run (marked, maybe not yet durable) or one before it?"""
        return index in self._done

    @property
    def resume_point(self) -> ResumePoint:
        with self._cond:
            return ResumePoint(self._done.watermark, self._done.ranges())

    def todo(self, items: Union[int, Iterable[int]]) -> Iterator[int]:
        """The indices of ``items`` (or of ``range(items)``) not done yet: ``for i in run.todo(range(total)):``."""
        for i in range(items) if isinstance(items, int) else items:
            if i not in self._done:
                yield i

    # ---- items ----

    def mark(self, index: int, *, ok: bool = True, skipped: bool = False, item: Optional[str] = None, batch: Optional[str] = None, cost: Optional[float] = None, error: Optional[str] = None) -> None:
        """Records item ``index`` without waiting; ``flush()`` makes everything marked durable. Save the output first."""
        self._enqueue(self._item(index, ok, skipped, item, batch, cost, error))
        self._done.add(index)

    def done(self, index: int, *, ok: bool = True, skipped: bool = False, item: Optional[str] = None, batch: Optional[str] = None, cost: Optional[float] = None, error: Optional[str] = None) -> None:
        """Records item ``index`` and returns once it is durable (many threads calling it share batches)."""
        seq = self._enqueue(self._item(index, ok, skipped, item, batch, cost, error))
        self._done.add(index)
        self._wait(seq)

    def flush(self, timeout: Optional[float] = None) -> None:
        """Returns once every update recorded so far is durable; raises the sender's error if a batch was refused."""
        with self._cond:
            self._wait_locked(self._enqueued, timeout)

    # ---- other updates (each returns once durable) ----

    def progress(self, *, total: Optional[int] = None, ok: Optional[int] = None, failed: Optional[int] = None, skipped: Optional[int] = None, cost: Optional[float] = None, message: Optional[str] = None) -> None:
        """Counts items without indices, or updates the total. (Not idempotent: a retried request after a lost answer may count twice.)"""
        self._record({"type": "progress", **_defined(total=total, ok=ok, failed=failed, skipped=skipped, cost=cost, message=message)})
        if total is not None:
            self.total = total

    def error(self, error: Union[str, BaseException], *, retryable: bool = False, index: Optional[int] = None, item: Optional[str] = None) -> None:
        """Records an error that did not stop the run."""
        self._record({"type": "error", "message": _message(error), "retryable": retryable, **_defined(index=index, item=item)})

    def metadata(self, data: Optional[Dict[str, Any]] = None, **kw: Any) -> None:
        """Merges ``data`` (and keyword arguments) into the stage's metadata, kept across runs."""
        self._record({"type": "metadata", "metadata": {**(data or {}), **kw}})

    def unit(self, key: str) -> "Unit":
        """Progress for one keyed sub-task of paged work, e.g. ``run.unit("org/repo:pulls")``."""
        return Unit(self, key)

    def checkpoint(self, state: Any, *, step: Optional[int] = None, metadata: Optional[Dict[str, Any]] = None) -> None:
        """Saves a state checkpoint (any JSON value, up to about 1 MiB); ``stage.latest()`` loads it after a crash."""
        if step is not None and (not isinstance(step, int) or isinstance(step, bool) or step < 0):
            raise CkptInvalid(f"checkpoint(): step must be a non-negative integer, got {step!r}.")
        try:
            size = len(json.dumps(state, separators=(",", ":"), allow_nan=False))
        except (TypeError, ValueError) as e:
            raise CkptInvalid(f"checkpoint(): the state must be JSON-serialisable ({e}).") from e
        if size > MAX_CHECKPOINT_JSON:
            raise CkptTooLarge(f"checkpoint(): the state is {size} bytes as JSON, over the {MAX_CHECKPOINT_JSON}-byte limit. Save large artefacts elsewhere and checkpoint their path.", details={"bytes": size, "limit": MAX_CHECKPOINT_JSON})
        self._record({"type": "checkpoint", "state": state, **_defined(step=step, metadata=metadata)})

    def pause(self, reason: Optional[str] = None) -> None:
        self._record({"type": "pause", **_defined(reason=reason)})

    def resume(self) -> None:
        self._record({"type": "resume"})

    def complete(self, metadata: Optional[Dict[str, Any]] = None) -> None:
        """Marks the stage completed (merging ``metadata``) and ends the run."""
        self._record({"type": "complete", **_defined(metadata=metadata)})
        self._shutdown(release=False)

    def fail(self, error: Union[str, BaseException], *, retryable: Optional[bool] = None) -> None:
        """Marks the stage failed and ends the run."""
        self._record({"type": "fail", "message": _message(error), **_defined(retryable=retryable)})
        self._shutdown(release=False)

    def close(self) -> None:
        """Flushes and stops this worker. A run of its own is released on the sidecar (status unchanged); a shared one is left to the others."""
        try:
            self.flush()
        finally:
            self._shutdown(release=not self.shared)

    @property
    def ended(self) -> bool:
        return self._ended

    def add_listener(self, fn: Listener) -> Callable[[], None]:
        """Calls ``fn(run)`` after each acknowledged batch (on the sender thread); returns a function that removes it."""
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def tqdm(self, **kwargs: Any) -> Any:
        """A tqdm bar that follows this run's durable progress (needs ``pip install tqdm``)."""
        from .progress import tqdm_bar

        return tqdm_bar(self, **kwargs)

    # ---- context manager ----

    def __enter__(self) -> "Run":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame: Optional[FrameType]) -> None:
        # Turned into an exception in the main thread, so the with-block unwinds through __exit__.
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Interrupted(signum)

    def __exit__(self, et: Optional[Type[BaseException]], ev: Optional[BaseException], tb: Optional[TracebackType]) -> bool:
        """Clean exit: complete when every item is done (or the total is unknown), else pause.
        Exception: record it as an error, then pause. SIGINT/SIGTERM: flush and pause.
        Shared runs (``join=True``) never pause on exit: other workers are still on the stage."""
        for sig, old in self._old_handlers.items():
            signal.signal(sig, old)
        self._old_handlers.clear()
        if self._ended:
            return False
        try:
            if ev is None:
                self.flush()
                if (self.total is None and not self.shared) or (self.total is not None and self.counters["processed"] >= self.total):
                    try:
                        self.complete()
                    except (CkptBadTransition, CkptNotFound):
                        if not self.shared:
                            raise  # another worker of a shared run completed it first
                elif self.pause_on_exit:
                    self.pause(f"exited with {self.counters['processed']} of {self.total} items done")
            else:
                try:
                    self._record_exit(ev)
                except CkptError:
                    pass  # the exception leaving the block matters more than ckpt's own (already sticky on the run)
        finally:
            if not self._ended:
                self._shutdown(release=not self.shared)
        return False

    def _record_exit(self, ev: BaseException) -> None:
        if isinstance(ev, (KeyboardInterrupt, Interrupted)):
            self.flush()
            if self.pause_on_exit:
                self.pause("interrupted" if isinstance(ev, KeyboardInterrupt) else f"signal {ev.signum}")
            return
        try:
            self.flush()
        finally:
            self.error(ev)
        if self.pause_on_exit:
            self.pause(f"{type(ev).__name__}: {_message(ev)}"[:MAX_LABEL])

    # ---- the queue ----

    def _item(self, index: int, ok: bool, skipped: bool, item: Optional[str], batch: Optional[str], cost: Optional[float], error: Optional[str]) -> Dict[str, Any]:
        if type(index) is not int or index < 0 or index > 9007199254740991:
            raise CkptInvalid(f"Item index must be a non-negative integer, got {index!r}.")
        u: Dict[str, Any] = {"type": "item", "index": index}
        if not ok:
            u["ok"] = False
        if skipped:
            u["skipped"] = True
        if item is not None:
            u["item"] = _label("item", item)
        if batch is not None:
            u["batch"] = _label("batch", batch, 256)
        if cost is not None:
            if not isinstance(cost, (int, float)) or isinstance(cost, bool) or not math.isfinite(cost) or cost < 0:
                raise CkptInvalid(f"cost must be a finite non-negative number, got {cost!r}.")
            u["cost"] = cost
        if error is not None:
            u["error"] = _label("error", error)
        return u

    def _record(self, update: Dict[str, Any]) -> None:
        self._wait(self._enqueue(update))

    def _enqueue(self, update: Dict[str, Any]) -> int:
        with self._cond:
            self._check()
            while len(self._pending) >= self._max_queue and self._error is None:
                self._cond.wait()
            self._check()
            self._pending.append(update)
            self._enqueued += 1
            if len(self._pending) == 1:
                self._cond.notify_all()
            return self._enqueued

    def _check(self) -> None:
        if self._error is not None:
            raise self._error
        if self._stopping:
            raise CkptClosed(f"Run {self.id} of stage {self.stage.name!r} has ended; call stage.begin() for a new one.")

    def _wait(self, seq: int) -> None:
        with self._cond:
            self._wait_locked(seq, None)

    def _wait_locked(self, seq: int, timeout: Optional[float]) -> None:
        until = None if timeout is None else time.monotonic() + timeout
        while self._acked < seq and self._error is None:
            left = None if until is None else until - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"flush(): {seq - self._acked} updates not durable after {timeout} s")
            self._cond.wait(left)
        if self._acked < seq:
            assert self._error is not None
            raise self._error

    def _take(self) -> Optional[Tuple[int, List[Dict[str, Any]]]]:
        """The next batch and the sequence number of its first update; None once stopped and drained.

        Item batches may be in flight side by side (items are a set: order does not matter). Any
        other update is a barrier: it goes alone, after everything before it and before anything after.
        """
        with self._cond:
            while True:
                if self._error is not None:
                    self._pending.clear()
                if self._pending and not self._barrier:
                    lifecycle = self._pending[0]["type"] != "item"
                    if not lifecycle or self._inflight == 0:
                        break
                if not self._pending and self._stopping and self._inflight == 0:
                    return None
                self._cond.wait()
            batch: List[Dict[str, Any]] = []
            while self._pending and len(batch) < self._batch_size and (self._pending[0]["type"] == "item") != lifecycle:
                batch.append(self._pending.popleft())
            self._barrier = lifecycle
            self._inflight += 1
            start = self._taken
            self._taken += len(batch)
            self._cond.notify_all()  # room in the queue for blocked mark()s
            return start, batch

    def _send_loop(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                return
            start, batch = taken
            try:
                body: Optional[Dict[str, Any]] = self._post(batch)
                failure: Optional[CkptError] = None
            except CkptError as e:
                body, failure = None, e
            except BaseException as e:  # never leave waiters hanging on a bug
                body, failure = None, CkptError(f"the sender failed: {e!r}")
            with self._cond:
                self._inflight -= 1
                self._barrier = False
                if failure is not None:
                    self._error = self._error or failure
                else:
                    assert body is not None
                    if body["revision"] >= self._revision:
                        self._revision = body["revision"]
                        self.counters = body["counters"]
                        self.status = body["status"]
                    if body.get("ended"):
                        self._ended = True
                    # Batches finish out of order: acked only moves over a contiguous prefix.
                    self._finished[start] = start + len(batch)
                    while self._acked in self._finished:
                        self._acked = self._finished.pop(self._acked)
                self._cond.notify_all()
            if failure is None:
                for fn in list(self._listeners):
                    try:
                        fn(self)
                    except Exception:
                        pass

    def _post(self, updates: List[Dict[str, Any]]) -> Dict[str, Any]:
        for attempt in range(3):
            run_id = self.id
            try:
                body = self._http.request("POST", f"{self.stage.path}/runs/{run_id}/updates", {"updates": updates})[1]
                self._last_contact = time.monotonic()
                return body
            except (CkptNotFound, CkptLeaseLost) as e:
                # The sidecar restarted, reaped the run or released it for silence: begin again (same options)
                # and resend; items are idempotent. Not when the run ended because it completed or failed (another worker of a shared run).
                if e.details.get("runId") != run_id or attempt == 2 or self.stage.state()["status"] in ("completed", "failed"):
                    raise
                self._rebind(run_id)
        raise AssertionError("unreachable")

    def _rebind(self, lost: str) -> None:
        with self._rebind_lock:
            if self.id != lost:
                return
            response = self.stage._begin(self._begin_body, wait=self.lease_ms / 1000 * 2)
            self.id = response["runId"]
            self.lease_ms = response["leaseMs"]
            self.rebinds += 1
            self._last_contact = time.monotonic()

    def _renew_loop(self) -> None:
        # The sidecar releases a run nobody touched for its lease; an idle worker renews at a quarter of it.
        period = max(0.05, self.lease_ms / 4000)
        while not self._stop_renewing.wait(period):
            if time.monotonic() - self._last_contact < period:
                continue
            try:
                self._http.request("POST", f"{self.stage.path}/runs/{self.id}/updates", {"updates": []}, retry_for=self.lease_ms / 2000)
                self._last_contact = time.monotonic()
            except CkptError:
                # A lost run (sidecar restart) is begun again by the next batch that needs it, never from
                # here: a shared run another worker completed must not be restarted by an idle renewal.
                pass

    def _shutdown(self, release: bool) -> None:
        with self._cond:
            already = self._stopping
            self._stopping = True
            self._cond.notify_all()
        if already:
            return
        self._stop_renewing.set()
        for t in self._senders:
            t.join()
        self._renewer.join()
        if release and not self._ended:
            try:
                self._http.request("DELETE", f"{self.stage.path}/runs/{self.id}", retry_for=5)
            except CkptNotFound:
                pass
        self._ended = True


class Unit:
    """One keyed sub-task (a repo, an endpoint): which page to fetch next, and its progress."""

    def __init__(self, run: Run, key: str) -> None:
        self.run = run
        self.key = key

    @property
    def state(self) -> Optional[Dict[str, Any]]:
        return self.run.stage.state().get("units", {}).get(self.key)

    def next_page(self, first_page: int = 1) -> int:
        """One past the last page written, or ``first_page``."""
        s = self.state
        return first_page if not s or s.get("page") is None else int(s["page"]) + 1

    @property
    def done(self) -> bool:
        s = self.state
        return bool(s) and s.get("status") == "complete"

    def page(self, page: int, *, records: Optional[int] = None) -> None:
        self.run._record({"type": "unit", "key": self.key, "status": "running", "page": page, **_defined(records=records)})

    def complete(self, *, records: Optional[int] = None) -> None:
        self.run._record({"type": "unit", "key": self.key, "status": "complete", **_defined(records=records)})

    def fail(self, error: Union[str, BaseException], *, retryable: bool = True) -> None:
        self.run._record({"type": "unit", "key": self.key, "status": "failed", "error": _message(error), "retryable": retryable})


def _defined(**kw: Any) -> Dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


def _message(e: Union[str, BaseException]) -> str:
    m = e if isinstance(e, str) else (str(e) or type(e).__name__)
    return m if len(m) <= MAX_LABEL else m[: MAX_LABEL - 3] + "..."


def _label(name: str, value: str, limit: int = MAX_LABEL) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise CkptInvalid(f"{name} must be a string of at most {limit} characters.")
    return value
