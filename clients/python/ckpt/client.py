"""Client and Stage: where a worker starts (``Client(url).stage(name).begin(...)``) and reads state, history and checkpoints."""
from __future__ import annotations

import hashlib
import json
import os
import random
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from ._http import Transport
from .errors import CkptInvalid, CkptLocked, CkptNotFound

InputSource = Union[str, "os.PathLike[str]", bytes, Dict[str, str]]


@dataclass(frozen=True)
class CheckpointInfo:
    """A saved state checkpoint without its state (``stage.checkpoints()``, newest first)."""

    revision: int
    at: int
    step: Optional[int]
    metadata: Dict[str, Any]
    bytes: int


@dataclass(frozen=True)
class Checkpoint(CheckpointInfo):
    """A saved state checkpoint with its state (``stage.latest()``)."""

    state: Any = field(default=None)


class Client:
    """A connection to ckpt-server.

    ``url`` and ``token`` default to ``$CKPT_URL`` (else ``http://127.0.0.1:7410``) and ``$CKPT_TOKEN``.
    Connection errors and 429/503 answers are retried with backoff and jitter for ``retry_for`` seconds.

    >>> client = Client("http://127.0.0.1:7410", token="...")
    >>> run = client.stage("fetch").begin(total=1000)
    """

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None, *, timeout: float = 30.0, retry_for: float = 30.0) -> None:
        self.url = url or os.environ.get("CKPT_URL") or "http://127.0.0.1:7410"
        self._http = Transport(self.url, token if token is not None else os.environ.get("CKPT_TOKEN"), timeout, retry_for)

    def stage(self, name: str) -> "Stage":
        return Stage(self, name)

    def stages(self, prefix: Optional[str] = None, status: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
        """Every stage's summary (status, counters, progress), sorted by name."""
        q = {k: v for k, v in (("prefix", prefix), ("status", ",".join(status) if status else None)) if v}
        return self.get("/v1/stages" + (("?" + urllib.parse.urlencode(q)) if q else ""))["stages"]

    def compact(self, **policy: Any) -> Dict[str, Any]:
        """Applies a retention policy (admin token): ``compact(maxAgeMs=..., keepCheckpoints=3, minEvents=0)``."""
        return self.request("POST", "/v1/compact", policy)[1]

    def healthy(self) -> bool:
        try:
            return bool(self._http.request("GET", "/healthz", retry_for=0)[1].get("ok"))
        except Exception:
            return False

    def get(self, path: str) -> Any:
        return self.request("GET", path)[1]

    def request(self, method: str, path: str, payload: Any = None, **kw: Any) -> Any:
        return self._http.request(method, path, payload, **kw)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Stage:
    """One named step of a pipeline on the sidecar."""

    def __init__(self, client: Client, name: str) -> None:
        self.client = client
        self.name = name
        self.path = "/v1/stages/" + urllib.parse.quote(name, safe="")

    def begin(
        self,
        total: Optional[int] = None,
        *,
        config: Any = None,
        input: Optional[InputSource] = None,
        on_change: str = "error",
        join: bool = False,
        lease_ms: Optional[int] = None,
        wait: float = 0.0,
        batch_size: int = 2000,
        max_queue: int = 100_000,
        senders: int = 2,
        pause_on_exit: Optional[bool] = None,
    ) -> "Run":
        """Begins (or resumes, or with ``join`` shares) a run.

        ``input`` is a file path, bytes or ``{"sha256": hex}``: a different input on resume raises
        ``CkptInputChanged`` (``config`` likewise, ``CkptConfigChanged``) unless ``on_change="restart"``.
        ``wait`` > 0 retries ``CkptLocked`` for that many seconds (a restarted worker waiting out the
        lease of the one that died). ``mark()`` queues at most ``max_queue`` updates before it blocks;
        ``senders`` requests of up to ``batch_size`` items each are in flight at once.
        """
        from .run import Run

        body: Dict[str, Any] = {}
        if total is not None:
            body["total"] = total
        if config is not None:
            body["config"] = config
        if input is not None:
            body["input"] = {"sha256": fingerprint(input)}
        if on_change != "error":
            body["onChange"] = on_change
        if lease_ms is not None:
            body["leaseMs"] = lease_ms
        if join:
            body["join"] = True
        if batch_size < 1 or batch_size > 20_000:
            raise CkptInvalid("begin(): batch_size must be between 1 and 20000 (the sidecar's limit per request).")
        if max_queue < batch_size:
            raise CkptInvalid("begin(): max_queue must be at least batch_size.")
        if senders < 1 or senders > 16:
            raise CkptInvalid("begin(): senders must be between 1 and 16.")
        response = self._begin(body, wait)
        return Run(self, body, response, batch_size=batch_size, max_queue=max_queue, pause_on_exit=(not join) if pause_on_exit is None else pause_on_exit, senders=senders)

    def _begin(self, body: Dict[str, Any], wait: float) -> Dict[str, Any]:
        deadline = time.monotonic() + wait
        delay = 0.05
        while True:
            try:
                return self.client.request("POST", self.path + "/runs", body)[1]
            except CkptLocked:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(min(delay * random.uniform(0.5, 1.5), max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 1.0)

    def state(self) -> Dict[str, Any]:
        """The stage's state: ``status``, ``counters``, ``resume`` (watermark + ranges), ``units``, ``errors``, ``progress``…"""
        return self.client.get(self.path)

    def exists(self) -> bool:
        try:
            self.state()
            return True
        except CkptNotFound:
            return False

    def history(self) -> Dict[str, Any]:
        return self.client.get(self.path + "/history")

    def events(self, from_revision: Optional[int] = None) -> Iterator[Dict[str, Any]]:
        """The history replayed, ``{"revision", "event"}`` per entry."""
        q = "" if from_revision is None else f"?from={int(from_revision)}"
        _, body = self.client._http.request("GET", self.path + "/events" + q)
        # NDJSON arrives as text the JSON parser could not read as one value.
        text = body["raw"] if isinstance(body, dict) and "raw" in body else json.dumps(body)
        for line in text.splitlines():
            if line.strip():
                yield json.loads(line)

    def latest(self) -> Optional[Checkpoint]:
        """The newest state checkpoint since the stage's last reset, or None."""
        try:
            c = self.client.get(self.path + "/checkpoints/latest")
        except CkptNotFound as e:
            if e.details.get("stage") == self.name:
                return None  # no such stage, or no checkpoint in it
            raise
        return Checkpoint(c["revision"], c["at"], c.get("step"), c.get("metadata") or {}, c["bytes"], c.get("state"))

    def checkpoints(self, limit: Optional[int] = None) -> List[CheckpointInfo]:
        """Saved checkpoints without their state, newest first (the sidecar's default limit is 100)."""
        q = "" if limit is None else f"?limit={int(limit)}"
        return [CheckpointInfo(c["revision"], c["at"], c.get("step"), c.get("metadata") or {}, c["bytes"]) for c in self.client.get(self.path + "/checkpoints" + q)["checkpoints"]]

    def reset(self, reason: Optional[str] = None) -> Dict[str, Any]:
        """Starts the stage over (admin token)."""
        return self.client.request("POST", self.path + "/reset", {"reason": reason} if reason else {})[1]

    def delete(self) -> None:
        """Removes the stage and its whole history (admin token)."""
        self.client.request("DELETE", self.path)


def fingerprint(source: InputSource) -> str:
    """SHA-256 (hex) of a file path, bytes, or ``{"sha256": hex}`` as given."""
    if isinstance(source, dict):
        h = str(source.get("sha256", ""))
        if len(h) != 64 or any(ch not in "0123456789abcdefABCDEF" for ch in h):
            raise CkptInvalid('begin(): input {"sha256": ...} must be 64 hex digits.')
        return h.lower()
    if isinstance(source, (bytes, bytearray, memoryview)):
        return hashlib.sha256(bytes(source)).hexdigest()
    h = hashlib.sha256()
    with open(os.fspath(source), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
