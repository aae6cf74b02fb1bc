"""Every error code the sidecar answers with, as a Python exception class (branch on the class or on ``.code``)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Type


class CkptError(Exception):
    """Base class: ``code`` (``CKPT_*``), ``status`` (HTTP, or None), ``details`` and ``issues`` from the server."""

    code: str = "CKPT_ERROR"

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        status: Optional[int] = None,
        details: Optional[Dict[str, Any]] = None,
        issues: Optional[List[Dict[str, Any]]] = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.status = status
        self.details: Dict[str, Any] = details or {}
        self.issues: List[Dict[str, Any]] = issues or []

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _make(name: str, code: str, doc: str) -> Type[CkptError]:
    return type(name, (CkptError,), {"code": code, "__doc__": doc})


CkptLocked = _make("CkptLocked", "CKPT_LOCKED", "Another live run owns the stage (pass join=True to share it, or wait=seconds).")
CkptConflict = _make("CkptConflict", "CKPT_CONFLICT", "The stage moved on since the expected revision.")
CkptInputChanged = _make("CkptInputChanged", "CKPT_INPUT_CHANGED", "The stage was started with a different input.")
CkptConfigChanged = _make("CkptConfigChanged", "CKPT_CONFIG_CHANGED", "The stage was started with a different config.")
CkptInvalid = _make("CkptInvalid", "CKPT_INVALID", "The request does not match its schema; nothing was written.")
CkptNotFound = _make("CkptNotFound", "CKPT_NOT_FOUND", "No such stage, run, checkpoint or endpoint.")
CkptBadTransition = _make("CkptBadTransition", "CKPT_BAD_TRANSITION", "The update is not allowed in the stage's status.")
CkptCorrupt = _make("CkptCorrupt", "CKPT_CORRUPT", "Stored data failed to decode.")
CkptClosed = _make("CkptClosed", "CKPT_CLOSED", "The sidecar's store (or this run) is closed.")
CkptTooSparse = _make("CkptTooSparse", "CKPT_TOO_SPARSE", "Too many items done out of order beyond the watermark.")
CkptIO = _make("CkptIO", "CKPT_IO", "The sidecar's log failed (disk, network).")
CkptUnavailable = _make("CkptUnavailable", "CKPT_UNAVAILABLE", "The sidecar cannot be reached, or is shutting down (retried first).")
CkptTooLarge = _make("CkptTooLarge", "CKPT_TOO_LARGE", "A body or checkpoint state over its size limit.")
CkptUnauthorized = _make("CkptUnauthorized", "CKPT_UNAUTHORIZED", "No token, or one the sidecar does not know.")
CkptForbidden = _make("CkptForbidden", "CKPT_FORBIDDEN", "The token's role is too low for the request.")
CkptUnsupportedMediaType = _make("CkptUnsupportedMediaType", "CKPT_UNSUPPORTED_MEDIA_TYPE", "The body was not application/json.")
CkptBusy = _make("CkptBusy", "CKPT_BUSY", "Too many requests in flight at the sidecar (retried first).")
CkptNotImplemented = _make("CkptNotImplemented", "CKPT_NOT_IMPLEMENTED", "The sidecar's log cannot do this.")
CkptNoSpace = _make("CkptNoSpace", "CKPT_NO_SPACE", "The sidecar's disk is full; its store refuses writes until it is reopened with space free.")
CkptLeaseLost = _make("CkptLeaseLost", "CKPT_LEASE_LOST", "The run was silent past its lease and was released (the client begins again by itself).")
CkptTimeout = _make("CkptTimeout", "CKPT_TIMEOUT", "The request was not fully sent within the sidecar's --request-timeout.")
CkptInternal = _make("CkptInternal", "CKPT_INTERNAL", "The sidecar failed unexpectedly; its stderr has the details.")

#: Code -> class, for every code the sidecar documents.
ERRORS: Dict[str, Type[CkptError]] = {
    c.code: c
    for c in (
        CkptLocked, CkptConflict, CkptInputChanged, CkptConfigChanged, CkptInvalid, CkptNotFound,
        CkptBadTransition, CkptCorrupt, CkptClosed, CkptTooSparse, CkptIO, CkptUnavailable, CkptTooLarge,
        CkptUnauthorized, CkptForbidden, CkptUnsupportedMediaType, CkptBusy, CkptNotImplemented, CkptInternal,
        CkptNoSpace, CkptLeaseLost, CkptTimeout,
    )
}


def error_from_body(status: int, body: Any) -> CkptError:
    """The exception for an error response ``{"error": {code, message, details?, issues?}}``."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        cls = CkptInternal if status >= 500 else CkptError
        return cls(f"HTTP {status} without a ckpt error body", status=status, code=None if cls is CkptInternal else f"HTTP_{status}")
    code = str(err.get("code", f"HTTP_{status}"))
    cls = ERRORS.get(code, CkptError)
    return cls(
        str(err.get("message", "")),
        code=code,
        status=status,
        details=err.get("details") if isinstance(err.get("details"), dict) else None,
        issues=err.get("issues") if isinstance(err.get("issues"), list) else None,
    )


class Interrupted(SystemExit):
    """Raised in the main thread on SIGTERM inside ``with run:`` so the run flushes and pauses; exits 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum
