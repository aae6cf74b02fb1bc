"""A worker child for the tests: `worker.py MODE URL STAGE [args]`; prints one line per durable step."""
import os
import sys
import time

import ckpt

mode, url, stage_name = sys.argv[1:4]
extra = sys.argv[4:]
client = ckpt.Client(url)
stage = client.stage(stage_name)


def say(*a: object) -> None:
    print(*a, flush=True)


if mode == "items":
    # Saves each item (a line in a file), then records it durably: the SIGKILL test counts both.
    total, out, delay = int(extra[0]), extra[1], float(extra[2])
    run = stage.begin(total=total, lease_ms=1000, wait=30)
    say("resumed", run.resumed.crashed, run.resumed.skipped)
    with run, open(out, "a") as f:
        for i in run.todo(range(total)):
            f.write(f"{i}\n")
            f.flush()
            run.done(i)
            say("done", i)
            time.sleep(delay)
    say("exit", stage.state()["status"])

elif mode == "join":
    # One of several processes sharing one stage: takes every n-th index.
    total, me, n = int(extra[0]), int(extra[1]), int(extra[2])
    with stage.begin(total=total, join=True, lease_ms=5000) as run:
        for i in run.todo(range(me, total, n)):
            run.mark(i)
            if i % 97 == 0:
                time.sleep(0.001)  # interleave with the others
    say("exit", run.joined, stage.state()["status"])

elif mode == "sigterm":
    # Runs until SIGTERM; prints each index once durable.
    with stage.begin(total=1_000_000) as run:
        say("ready")
        for i in run.todo(range(1_000_000)):
            run.done(i)
            say("done", i)
            time.sleep(0.005)

elif mode == "checkpoints":
    # A loop with no items: one checkpoint per step, killed from outside at some point.
    start = stage.latest()
    step = 0 if start is None else start.step + 1
    state = {"sum": 0} if start is None else start.state
    run = stage.begin(lease_ms=1000, wait=30)
    say("start", step)
    while True:
        state = {"sum": state["sum"] + step}
        run.checkpoint(state, step=step, metadata={"pid": os.getpid()})
        say("saved", step, state["sum"])
        step += 1
        time.sleep(0.01)

else:
    raise SystemExit(f"unknown mode {mode}")
