"""Test helpers: a real ckpt-server child process on a free loopback port, and Python worker children."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(PKG))


def server_command() -> List[str]:
    """$CKPT_SERVER_CMD (a JSON list, set by test/python/client.test.ts), else the sidecar from this repo through tsx."""
    cmd = os.environ.get("CKPT_SERVER_CMD")
    if cmd:
        return json.loads(cmd)
    return ["node", "--import", "tsx", os.path.join(REPO, "server", "node.ts")]


class Server:
    """ckpt-server over a LevelDB folder of its own; ``restart()`` reopens the same folder on the same port."""

    def __init__(self, *, tokens: Optional[str] = None, args: Optional[List[str]] = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="ckpt-py-test-")
        self.tokens = tokens
        self.args = args or []
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None
        self.start()

    def start(self) -> None:
        env = {**os.environ, "CKPT_DURABILITY": "os"}
        env.pop("CKPT_TOKENS", None)
        if self.tokens:
            env["CKPT_TOKENS"] = self.tokens
        self.proc = subprocess.Popen(
            server_command() + ["--store", self.dir, "--port", str(self.port), "--host", "127.0.0.1", *self.args],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        assert self.proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("ckpt-server exited:\n" + "".join(lines))
            lines.append(line)
            m = re.search(r"listening on (http://[\d.]+:(\d+))", line)
            if m:
                self.url = m.group(1)
                self.port = int(m.group(2))
                break
        else:
            raise RuntimeError("ckpt-server did not start:\n" + "".join(lines))
        # Keep draining its output so it never blocks on a full pipe.
        import threading

        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()  # type: ignore[union-attr]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def restart(self, sig: int = signal.SIGKILL) -> None:
        self.stop(sig)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def worker(args: List[str], env: Optional[Dict[str, str]] = None, **kw) -> subprocess.Popen:
    """Starts tests/worker.py (or any script given as the first arg ending in .py) with ckpt importable."""
    script = args[0] if args[0].endswith(".py") else os.path.join(HERE, "worker.py")
    rest = args[1:] if args[0].endswith(".py") else args
    e = {**os.environ, "PYTHONPATH": PKG + os.pathsep + os.environ.get("PYTHONPATH", ""), "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen([sys.executable, script, *rest], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_for(check, timeout: float = 30.0, every: float = 0.02) -> bool:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if check():
            return True
        time.sleep(every)
    return bool(check())
