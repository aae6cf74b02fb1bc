"""The checkpoint-manager pattern: save_checkpoint / get_latest_checkpoint / list_checkpoints over ckpt.

An iterative loop (synthesis, training) with no item index saves "iteration i, here is my state";
after a crash it loads the latest and continues. Retention keeps the last 10 (POST /v1/compact with
keepCheckpoints, checkpointTtlMs) and never the latest.

    python checkpoint_manager.py --iterations 20 --crash-at 7   # dies at iteration 7
    python checkpoint_manager.py --iterations 20                # continues from iteration 7
"""
import argparse
import os
import signal
from typing import Any, Dict, List, Optional

import ckpt


class CheckpointManager:
    """One phase of a pipeline = one ckpt stage; its checkpoints are that stage's state checkpoints."""

    def __init__(self, client: ckpt.Client, phase: str) -> None:
        self.stage = client.stage(phase)
        self.run: Optional[ckpt.Run] = None

    def start(self) -> None:
        # lease_ms: how long the sidecar keeps a silent worker's claim; wait: outlast a crashed one's.
        self.run = self.stage.begin(lease_ms=2000, wait=10)

    def save_checkpoint(self, iteration: int, state: Dict[str, Any], metadata: Optional[Dict[str, Any]] = None) -> None:
        assert self.run is not None
        self.run.checkpoint(state, step=iteration, metadata=metadata)  # durable when it returns

    def get_latest_checkpoint(self) -> Optional[ckpt.Checkpoint]:
        return self.stage.latest()

    def list_checkpoints(self, limit: int = 10) -> List[ckpt.CheckpointInfo]:
        return self.stage.checkpoints(limit=limit)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase", default="synthesis")
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--crash-at", type=int, default=None)
    a = ap.parse_args()
    manager = CheckpointManager(ckpt.Client(), a.phase)
    latest = manager.get_latest_checkpoint()
    start, state = (0, {"best": None, "scores": []}) if latest is None else (latest.step + 1, latest.state)
    print(f"starting at iteration {start}" + (" (fresh)" if latest is None else f" (latest checkpoint: iteration {latest.step})"))
    manager.start()
    assert manager.run is not None
    with manager.run:
        for it in range(start, a.iterations):
            if it == a.crash_at:
                print(f"crashing at iteration {it}", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            score = (it * 37) % 101  # the "work" of one iteration
            state = {"best": max(score, state["best"] or 0), "scores": (state["scores"] + [score])[-5:]}
            manager.save_checkpoint(it, state, {"score": score})
    print(f"done: best={state['best']}; newest checkpoints: {[c.step for c in manager.list_checkpoints(3)]}")


if __name__ == "__main__":
    main()
