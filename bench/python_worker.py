"""Bench child: one Python process through ckpt-client against a running sidecar. Prints one JSON line of rates.

    python3 bench/python_worker.py URL STAGE EVENTS
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
import ckpt  # noqa: E402

url, stage, events = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = ckpt.Client(url)

# mark(): batched in the background (the defaults: two requests of up to 2,000 items in flight), then one flush.
run = client.stage(stage + "-mark").begin(lease_ms=600_000)
t0 = time.perf_counter()
for i in range(events):
    run.mark(i)
run.flush()
mark = events / (time.perf_counter() - t0)
run.complete()


def awaited(threads: int, seconds: float) -> float:
    """done() from `threads` threads for `seconds`: each call returns once its item is durable (fsync'd)."""
    r = client.stage(f"{stage}-done-{threads}").begin(lease_ms=600_000)
    n = [0]
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def work(k: int) -> None:
        i = k
        while time.perf_counter() < end:
            r.done(i)
            i += threads
            with lock:
                n[0] += 1

    t = time.perf_counter()
    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for x in ts:
        x.start()
    for x in ts:
        x.join()
    rate = n[0] / (time.perf_counter() - t)
    r.complete()
    return rate


print(json.dumps({"mark": mark, "done1": awaited(1, 1.5), "done64": awaited(64, 1.5), "python": sys.version.split()[0]}))
