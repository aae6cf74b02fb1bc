"""ckpt-client: resumable loops against ckpt-server (the ckpt sidecar), standard library only.

>>> from ckpt import Client
>>> with Client("http://127.0.0.1:7410").stage("fetch").begin(total=100) as run:
...     for i in run.todo(range(100)):
...         save(i)
...         run.mark(i)
"""
from .client import Checkpoint, CheckpointInfo, Client, Stage, fingerprint
from .errors import (
    ERRORS,
    CkptBadTransition,
    CkptBusy,
    CkptClosed,
    CkptConfigChanged,
    CkptConflict,
    CkptCorrupt,
    CkptError,
    CkptForbidden,
    CkptInputChanged,
    CkptInternal,
    CkptInvalid,
    CkptIO,
    CkptLeaseLost,
    CkptLocked,
    CkptNoSpace,
    CkptNotFound,
    CkptNotImplemented,
    CkptTimeout,
    CkptTooLarge,
    CkptTooSparse,
    CkptUnauthorized,
    CkptUnavailable,
    CkptUnsupportedMediaType,
    Interrupted,
)
from .progress import ProgressPrinter
from .run import ResumeInfo, ResumePoint, Run, Unit

__version__ = "0.1.0"

__all__ = [
    "Client", "Stage", "Run", "Unit", "ResumeInfo", "ResumePoint", "Checkpoint", "CheckpointInfo", "ProgressPrinter", "fingerprint",
    "ERRORS", "CkptError", "CkptLocked", "CkptConflict", "CkptInputChanged", "CkptConfigChanged", "CkptInvalid", "CkptNotFound",
    "CkptBadTransition", "CkptCorrupt", "CkptClosed", "CkptTooSparse", "CkptIO", "CkptUnavailable", "CkptTooLarge",
    "CkptUnauthorized", "CkptForbidden", "CkptUnsupportedMediaType", "CkptBusy", "CkptNotImplemented", "CkptInternal", "CkptNoSpace",
    "CkptLeaseLost", "CkptTimeout", "Interrupted",
]
