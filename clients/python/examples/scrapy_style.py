"""A Scrapy-style per-request loop: fetch each URL, save the response, then mark the request done.

Re-running after a crash skips every request already saved; the progress line shows rate and ETA.

    python scrapy_style.py --out ./pages --crash-after 40   # dies after 40 requests
    python scrapy_style.py --out ./pages                    # resumes at the first request not done
"""
import argparse
import hashlib
import json
import os
import signal

import ckpt


def fetch(url: str) -> dict:
    """Stands in for the HTTP request a spider makes."""
    return {"url": url, "title": hashlib.sha1(url.encode()).hexdigest()[:8]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", default="spider")
    ap.add_argument("--out", default="pages")
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--crash-after", type=int, default=None)
    a = ap.parse_args()
    urls = [f"https://example.org/catalogue/page-{i}.html" for i in range(a.requests)]
    os.makedirs(a.out, exist_ok=True)
    stage = ckpt.Client().stage(a.stage)
    # The URL list is the input: resuming against a different list is refused (CkptInputChanged).
    run = stage.begin(total=len(urls), input="\n".join(urls).encode(), lease_ms=2000, wait=10)
    print(run.resumed.message, flush=True)
    fetched = 0
    with run, ckpt.ProgressPrinter(run, every=0.5):
        for i in run.todo(range(len(urls))):
            page = fetch(urls[i])
            with open(os.path.join(a.out, f"{i}.json"), "w") as f:  # save the output first…
                json.dump(page, f)
            run.mark(i, item=urls[i])  # …then record it (batched in the background)
            fetched += 1
            if fetched == a.crash_after:
                run.flush()  # make the crash land after a known point, for the demo
                print(f"crashing after {fetched} requests", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
    print(f"fetched {fetched} this run; stage is {stage.state()['status']}")


if __name__ == "__main__":
    main()
