"""HTTP to the sidecar: one keep-alive connection per thread, JSON in and out, retries with backoff and jitter.

Retried: connection errors (refused, reset, timed out) and 429/503, honouring ``Retry-After``, until
``retry_for`` seconds pass. Never retried: anything else the server answered, which becomes the
matching exception from ``ckpt.errors``.
"""
from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
import urllib.parse
from typing import Any, Dict, Optional, Tuple

from .errors import CkptInvalid, CkptUnavailable, error_from_body

RETRY_STATUSES = (429, 503)
#: Errors that mean "the request may not have reached the server, or its answer was lost".
CONNECTION_ERRORS = (ConnectionError, http.client.HTTPException, socket.timeout, TimeoutError, OSError)


class Transport:
    def __init__(self, url: str, token: Optional[str], timeout: float, retry_for: float, backoff: float = 0.05, max_backoff: float = 2.0) -> None:
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise CkptInvalid(f"Client URL must look like http://127.0.0.1:7410, got {url!r}")
        self.url = url.rstrip("/")
        self._https = u.scheme == "https"
        self._host = u.hostname
        self._port = u.port or (443 if self._https else 80)
        self._base = u.path.rstrip("/")
        self._headers = {"content-type": "application/json", "accept": "application/json", "user-agent": "ckpt-client-python"}
        if token:
            self._headers["authorization"] = f"Bearer {token}"
        self.timeout = timeout
        self.retry_for = retry_for
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._local = threading.local()
        #: Counts of retried attempts (connection errors, 429/503), for tests and metrics.
        self.retries = 0

    def _conn(self) -> http.client.HTTPConnection:
        c = getattr(self._local, "conn", None)
        if c is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            c = cls(self._host, self._port, timeout=self.timeout)
            self._local.conn = c
        return c

    def _drop(self) -> None:
        c = getattr(self._local, "conn", None)
        self._local.conn = None
        if c is not None:
            c.close()

    def close(self) -> None:
        self._drop()

    def once(self, method: str, path: str, body: Optional[bytes], headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, str], bytes]:
        """One attempt; raises a CONNECTION_ERRORS member when the exchange failed."""
        c = self._conn()
        try:
            c.request(method, self._base + path, body=body, headers={**self._headers, **(headers or {})})
            r = c.getresponse()
            data = r.read()
        except BaseException:
            self._drop()
            raise
        if r.getheader("connection", "").lower() == "close":
            self._drop()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def request(self, method: str, path: str, payload: Any = None, *, retry_for: Optional[float] = None, headers: Optional[Dict[str, str]] = None) -> Tuple[int, Any]:
        """Sends ``payload`` as JSON; returns (status, parsed body) for 2xx/304, raises the mapped error otherwise."""
        body = None if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        deadline = time.monotonic() + (self.retry_for if retry_for is None else retry_for)
        attempt = 0
        while True:
            try:
                status, head, data = self.once(method, path, body, headers)
            except CONNECTION_ERRORS as e:
                wait = self._delay(attempt, None)
                if time.monotonic() + wait > deadline:
                    raise CkptUnavailable(f"Cannot reach ckpt-server at {self.url} ({type(e).__name__}: {e}); gave up after {attempt + 1} attempts.", status=None) from e
            else:
                parsed = _parse(data)
                if status < 400:
                    return status, parsed
                if status not in RETRY_STATUSES:
                    raise error_from_body(status, parsed)
                wait = self._delay(attempt, head.get("retry-after"))
                if time.monotonic() + wait > deadline:
                    raise error_from_body(status, parsed)
            attempt += 1
            self.retries += 1
            time.sleep(wait)

    def _delay(self, attempt: int, retry_after: Optional[str]) -> float:
        # Full jitter: many workers retrying a restarted sidecar do not arrive in lockstep.
        wait = random.uniform(0, min(self.max_backoff, self.backoff * (2 ** attempt)))
        if retry_after:
            try:
                wait = max(wait, float(retry_after))
            except ValueError:
                pass
        return wait


def _parse(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return {"raw": data.decode("utf-8", "replace")}
