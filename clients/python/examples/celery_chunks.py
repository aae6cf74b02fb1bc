"""Celery-style chunk workers: several processes join one stage, each taking chunks of items.

Each worker begins with join=True (one shared run on the sidecar), works through its chunks, and
leaves; the worker that finishes the last item completes the stage. A worker killed mid-chunk
loses nothing durable: rerun it and it skips what is done.

    python celery_chunks.py --workers 4 --items 2000 --chunk 100
"""
import argparse
import multiprocessing
import os

import ckpt


def work(stage_name: str, items: int, chunk: int, me: int, workers: int) -> None:
    client = ckpt.Client()
    with client.stage(stage_name).begin(total=items, join=True, lease_ms=5000) as run:
        for start in range(me * chunk, items, workers * chunk):  # this worker's chunks
            for i in run.todo(range(start, min(start + chunk, items))):
                _ = i * i  # the task's work on item i
                run.mark(i, batch=f"chunk-{start // chunk}")
        run.flush()
    print(f"worker {me} (pid {os.getpid()}): {'joined' if run.joined else 'started'} the run", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", default="chunks")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--chunk", type=int, default=100)
    a = ap.parse_args()
    procs = [multiprocessing.Process(target=work, args=(a.stage, a.items, a.chunk, k, a.workers)) for k in range(a.workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    s = ckpt.Client().stage(a.stage).state()
    print(f"stage {a.stage}: {s['status']}, {s['counters']['processed']} of {s['total']} items, {s['counters']['duplicates']} duplicates")
    raise SystemExit(0 if all(p.exitcode == 0 for p in procs) else 1)


if __name__ == "__main__":
    main()
