"""ckpt-client against a real ckpt-server on loopback: resume after SIGKILL, joined processes, a server restart,
every error code, the context manager, state checkpoints, retries."""
from __future__ import annotations

import http.server
import io
import json
import os
import random
import signal
import socket
import tempfile
import threading
import time
import unittest
import uuid
from collections import Counter

import ckpt
from ckpt._doneset import DoneSet
from ckpt.progress import ProgressPrinter, format_line

from .helpers import Server, wait_for, worker

server: Server


def setUpModule() -> None:
    global server
    server = Server()


def tearDownModule() -> None:
    server.close()


def name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class DoneSetTest(unittest.TestCase):
    def test_matches_a_python_set_for_random_orders(self) -> None:
        rng = random.Random(7)
        for _ in range(200):
            xs = [rng.randrange(60) for _ in range(rng.randrange(80))]
            d, s = DoneSet(), set()
            for x in xs:
                d.add(x)
                s.add(x)
                self.assertEqual([i for i in range(70) if i in d], sorted(s))
            self.assertEqual(len(d), len(s))
            for a, b in d.ranges():
                self.assertGreater(a, d.watermark)  # beyond the watermark, never touching it

    def test_many_threads_adding_and_reading_at_once(self) -> None:
        # Run.mark/done add from every worker thread while others ask `i in done`: a thread switch between the
        # two parallel lists' updates once raised IndexError in the 64-thread bench.
        import sys

        before = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        try:
            d, errors = DoneSet(), []
            order = list(range(4000))
            random.Random(3).shuffle(order)

            def work(k: int) -> None:
                try:
                    for x in order[k::8]:
                        d.add(x)
                        _ = (x + 1) in d, (x + 977) in d, len(d.ranges())
                except Exception as e:  # noqa: BLE001 - the test is that nothing is raised
                    errors.append(e)

            threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            sys.setswitchinterval(before)
        self.assertEqual(errors, [])
        self.assertEqual((d.watermark, d.ranges(), len(d)), (4000, [], 4000))

    def test_reads_the_servers_flat_ranges(self) -> None:
        d = DoneSet(3, [5, 7, 9, 10])
        self.assertEqual([i for i in range(12) if i in d], [0, 1, 2, 5, 6, 9])


class LoopTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client = ckpt.Client(server.url)

    def tearDown(self) -> None:
        self.client.close()

    def test_a_clean_loop_completes_and_a_second_begin_skips_everything(self) -> None:
        stage = self.client.stage(name("loop"))
        with stage.begin(total=500) as run:
            self.assertEqual(run.resumed.from_status, "initialized")
            for i in run.todo(range(500)):
                run.mark(i, item=f"url-{i}", cost=0.5 if i == 0 else None)
        s = stage.state()
        self.assertEqual(s["status"], "completed")
        self.assertEqual(s["counters"]["processed"], 500)
        self.assertEqual(s["resume"]["watermark"], 500)
        self.assertEqual(s["cost"], 0.5)
        with stage.begin(total=500) as run:
            self.assertEqual(list(run.todo(500)), [])
            self.assertEqual(run.resumed.skipped, 500)

    def test_exiting_early_pauses_and_the_next_run_resumes_from_the_resume_point(self) -> None:
        stage = self.client.stage(name("early"))
        with stage.begin(total=100) as run:
            for i in [0, 1, 2, 5, 9]:
                run.mark(i, ok=i != 9, error="boom" if i == 9 else None)
            run.progress(message="halfway")
        self.assertEqual(stage.state()["status"], "paused")
        with stage.begin(total=100) as run:
            self.assertEqual(run.resume_point, ckpt.ResumePoint(3, [(5, 6), (9, 10)]))
            self.assertTrue(run.is_done(9) and not run.is_done(3))
            self.assertEqual(list(run.todo(range(11))), [3, 4, 6, 7, 8, 10])
            run.unit("org/repo:pulls").page(1, records=30)
            u = run.unit("org/repo:pulls")
            self.assertEqual(u.next_page(), 2)
            u.complete(records=5)
            self.assertTrue(u.done)
            run.metadata({"model": "m1"}, tokens=3)
            for i in run.todo(100):
                run.done(i)
        s = stage.state()
        self.assertEqual((s["status"], s["counters"]["failed"], s["units"]["org/repo:pulls"]["records"]), ("completed", 1, 35))
        self.assertEqual(s["metadata"], {"model": "m1", "tokens": 3})

    def test_an_exception_in_the_with_block_is_recorded_and_the_stage_paused(self) -> None:
        stage = self.client.stage(name("boom"))
        with self.assertRaises(ValueError):
            with stage.begin(total=10) as run:
                run.mark(0)
                run.mark(1)
                raise ValueError("the API changed its schema")
        s = stage.state()
        self.assertEqual(s["status"], "paused")
        self.assertEqual(s["counters"]["processed"], 2)  # marked items were flushed first
        self.assertEqual(s["errors"]["count"], 1)
        self.assertEqual(s["errors"]["lastMessage"], "the API changed its schema")

    def test_many_threads_calling_done_share_batches(self) -> None:
        stage = self.client.stage(name("threads"))
        with stage.begin(total=400) as run:
            def work(k: int) -> None:
                for i in range(k, 400, 8):
                    run.done(i)
            threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        s = stage.state()
        self.assertEqual((s["status"], s["counters"]["processed"], s["counters"]["duplicates"]), ("completed", 400, 0))

    def test_bad_input_is_refused_locally_and_nothing_is_written(self) -> None:
        stage = self.client.stage(name("bad"))
        with self.assertRaises(ckpt.CkptBadTransition), stage.begin(total=3) as run:
            for bad in (-1, 1.5, "3", True):
                with self.assertRaises(ckpt.CkptInvalid):
                    run.mark(bad)  # type: ignore[arg-type]
            with self.assertRaises(ckpt.CkptInvalid):
                run.mark(0, cost=float("nan"))
            with self.assertRaises(ckpt.CkptInvalid):
                run.mark(0, item="x" * 3000)
            run.flush()
            self.assertEqual(stage.state()["counters"]["processed"], 0)
            run.pause("manual")
            with self.assertRaises(ckpt.CkptBadTransition):
                run.done(0)  # the sidecar refused the batch: nothing in it was written…
            with self.assertRaises(ckpt.CkptBadTransition):
                run.flush()  # …and the error sticks (leaving the block raises it too)
            self.assertEqual(stage.state()["counters"]["processed"], 0)
        self.assertEqual(stage.state()["status"], "paused")

    def test_the_progress_printer_and_tqdm(self) -> None:
        self.assertEqual(format_line("fetch", 1234, 10000, 456.0), "fetch: 1,234/10,000 (12.3%) 456/s ETA 0:00:19")
        stage = self.client.stage(name("printer"))
        out = io.StringIO()
        with stage.begin(total=300) as run:
            with ProgressPrinter(run, every=0, file=out) as p:
                for i in run.todo(300):
                    run.done(i)
            self.assertGreaterEqual(p.lines, 2)
            self.assertTrue(out.getvalue().strip().splitlines()[-1].startswith(f"{stage.name}: 300/300 (100.0%)"))
        try:
            import tqdm  # noqa: F401
        except ImportError:
            with stage.begin(total=300) as run, self.assertRaisesRegex(ImportError, "pip install tqdm"):
                run.tqdm()
        else:
            stage2 = self.client.stage(name("tqdm"))
            with stage2.begin(total=50) as run:
                bar = run.tqdm(file=io.StringIO())
                for i in run.todo(50):
                    run.done(i)
                bar.close()
                self.assertEqual(bar.n, 50)


class CrashTest(unittest.TestCase):
    def setUp(self) -> None:
        self.client = ckpt.Client(server.url)
        self.tmp = tempfile.mkdtemp(prefix="ckpt-py-crash-")

    def test_resume_after_a_sigkilled_worker_with_exact_counts(self) -> None:
        stage = self.client.stage(name("killed"))
        out = os.path.join(self.tmp, "out.txt")
        total = 120
        p = worker(["items", server.url, stage.name, str(total), out, "0.005"])
        acked = []
        for line in p.stdout:  # type: ignore[union-attr]
            if line.startswith("done"):
                acked.append(int(line.split()[1]))
                if len(acked) == 40:
                    p.send_signal(signal.SIGKILL)
                    break
        p.wait(10)
        self.assertEqual(p.returncode, -signal.SIGKILL)
        # Everything the worker saw acknowledged is durable, whatever it did after.
        s = stage.state()
        self.assertGreaterEqual(s["counters"]["processed"], 40)
        self.assertEqual(s["status"], "running")
        p2 = worker(["items", server.url, stage.name, str(total), out, "0"])
        stdout, stderr = p2.communicate(timeout=60)
        self.assertEqual(p2.returncode, 0, stderr)
        first = stdout.splitlines()[0].split()
        self.assertEqual(first[:2], ["resumed", "True"])  # the dead run was detected as a crash
        self.assertEqual(int(first[2]), s["counters"]["processed"])
        self.assertIn("exit completed", stdout)
        s = stage.state()
        self.assertEqual((s["counters"]["processed"], s["counters"]["successful"], s["counters"]["duplicates"]), (total, total, 0))
        with open(out) as f:
            saved = Counter(int(x) for x in f.read().split())
        self.assertEqual(set(saved), set(range(total)))
        # Save before mark: at most the one item in flight at the kill was saved twice, none skipped.
        self.assertLessEqual(sum(n - 1 for n in saved.values()), 1)
        self.assertEqual([r["outcome"] for r in stage.history()["runs"]], ["crashed", "completed"])

    def test_four_processes_join_one_stage(self) -> None:
        stage = self.client.stage(name("joined"))
        total = 4000
        procs = [worker(["join", server.url, stage.name, str(total), str(k), "4"]) for k in range(4)]
        outs = [p.communicate(timeout=120) for p in procs]
        for p, (o, e) in zip(procs, outs):
            self.assertEqual(p.returncode, 0, e)
        s = stage.state()
        self.assertEqual((s["counters"]["processed"], s["counters"]["duplicates"], s["status"]), (total, 0, "completed"))
        self.assertEqual(s["resume"]["watermark"], total)
        self.assertGreaterEqual(sum("exit True" in o for o, _ in outs), 1)  # at least one joined a live run
        self.assertEqual(len(stage.history()["runs"]), 1)  # one shared run, not four

    def test_sigterm_inside_with_flushes_and_pauses(self) -> None:
        stage = self.client.stage(name("sigterm"))
        p = worker(["sigterm", server.url, stage.name])
        done = []
        for line in p.stdout:  # type: ignore[union-attr]
            if line.startswith("done"):
                done.append(int(line.split()[1]))
                if len(done) == 25:
                    p.send_signal(signal.SIGTERM)
                    break
        rest = p.stdout.read()  # type: ignore[union-attr]
        done += [int(x.split()[1]) for x in rest.splitlines() if x.startswith("done")]
        p.wait(20)
        self.assertEqual(p.returncode, 128 + signal.SIGTERM)
        s = stage.state()
        self.assertEqual(s["status"], "paused")
        # Every item the worker saw acknowledged is durable; the one in flight when the signal landed may be too.
        self.assertIn(s["counters"]["processed"], (len(done), len(done) + 1))
        self.assertEqual(stage.history()["statusChanges"][-1]["reason"], f"signal {signal.SIGTERM}")

    def test_state_checkpoints_saved_listed_loaded_after_a_crash_and_trimmed(self) -> None:
        stage = self.client.stage(name("cp"))
        self.assertIsNone(stage.latest())
        p = worker(["checkpoints", server.url, stage.name])
        saved = []
        for line in p.stdout:  # type: ignore[union-attr]
            if line.startswith("saved"):
                saved.append(tuple(int(x) for x in line.split()[1:]))
                if len(saved) == 15:
                    p.send_signal(signal.SIGKILL)
                    break
        p.wait(10)
        latest = stage.latest()
        assert latest is not None
        # The kill may land after a save the worker never printed; never before one it did.
        self.assertGreaterEqual(latest.step, saved[-1][0])
        self.assertEqual(latest.state, {"sum": latest.step * (latest.step + 1) // 2})
        listed = stage.checkpoints(limit=5)
        self.assertEqual([c.step for c in listed], list(range(latest.step, latest.step - 5, -1)))
        self.assertTrue(all(c.bytes > 0 and "pid" in c.metadata for c in listed))
        # A new process continues from the latest.
        p2 = worker(["checkpoints", server.url, stage.name])
        first = p2.stdout.readline().split()  # type: ignore[union-attr]
        self.assertEqual(first, ["start", str(latest.step + 1)])
        while not p2.stdout.readline().startswith("saved"):  # type: ignore[union-attr]
            pass
        p2.send_signal(signal.SIGTERM)
        p2.wait(10)
        newest = stage.latest()
        assert newest is not None
        self.assertEqual(newest.state, {"sum": newest.step * (newest.step + 1) // 2})
        # Retention: keep 3, never the latest. A running stage is never compacted: take it over (after the
        # killed worker's lease) and pause it first.
        taken = stage.begin(wait=20)
        self.assertTrue(taken.resumed.crashed)
        taken.pause()
        taken.close()
        self.assertEqual(self.client.compact(keepCheckpoints=3, minEvents=0, prefix=stage.name)["stages"][0]["action"], "compacted")
        self.assertEqual([c.step for c in stage.checkpoints()], [newest.step, newest.step - 1, newest.step - 2])
        self.assertEqual(stage.latest(), newest)
        with self.assertRaises(ckpt.CkptTooLarge):
            with stage.begin(wait=10) as run:
                run.checkpoint("x" * (1 << 20))

    def test_begin_wait_retries_a_locked_stage_until_the_lease_lapses(self) -> None:
        stage = self.client.stage(name("wait"))
        first = stage.begin(total=5, lease_ms=500)
        first._stop_renewing.set()  # stop renewing: like a client that went silent
        with self.assertRaises(ckpt.CkptLocked):
            stage.begin(total=5)
        t = time.monotonic()
        second = stage.begin(total=5, wait=15)
        self.assertLess(time.monotonic() - t, 15)
        self.assertNotEqual(second.id, first.id)
        second.close()


class RestartTest(unittest.TestCase):
    def test_the_server_restarted_mid_run_loses_nothing_acknowledged(self) -> None:
        own = Server()
        try:
            client = ckpt.Client(own.url, retry_for=60)
            stage = client.stage(name("restart"))
            total = 20_000
            with stage.begin(total=total, lease_ms=1000) as run:
                for i in range(total // 2):
                    run.mark(i)
                run.flush()
                acked = total // 2
                restarter = threading.Timer(0.05, own.restart, kwargs={"sig": signal.SIGKILL})
                restarter.start()
                for i in range(total // 2, total):
                    run.mark(i)
                    if i % 2000 == 0:
                        time.sleep(0.05)
                restarter.join()
                run.flush()
                self.assertGreaterEqual(run.rebinds, 1)
                self.assertGreaterEqual(client._http.retries, 1)
            s = stage.state()
            self.assertGreaterEqual(total, acked)
            self.assertEqual((s["status"], s["counters"]["processed"], s["resume"]["watermark"]), ("completed", total, total), json.dumps(stage.history()))
            self.assertEqual(s["counters"]["duplicates"] >= 0, True)
        finally:
            own.close()


class ErrorsTest(unittest.TestCase):
    def test_every_server_error_code_has_a_class(self) -> None:
        codes = json.loads(os.environ.get("CKPT_ERROR_CODES", "[]")) or list(ckpt.ERRORS)
        for code in codes:
            self.assertIn(code, ckpt.ERRORS, f"{code} has no exception class")
            e = ckpt.errors.error_from_body(409, {"error": {"code": code, "message": "m", "details": {"stage": "s"}}})
            self.assertIsInstance(e, ckpt.ERRORS[code])
            self.assertEqual((e.code, e.details, e.message), (code, {"stage": "s"}, "m"))
        self.assertEqual(len(set(ckpt.ERRORS)), len(ckpt.ERRORS))

    def test_codes_the_real_server_answers_with(self) -> None:
        c = ckpt.Client(server.url)
        st = c.stage(name("codes"))
        with self.assertRaises(ckpt.CkptNotFound):
            st.state()
        with self.assertRaises(ckpt.CkptInvalid) as bad:
            st.begin(total=-1)
        self.assertEqual(bad.exception.status, 400)
        self.assertEqual(bad.exception.issues[0]["path"], ["body", "total"])
        with self.assertRaises(ckpt.CkptInvalid):
            c.stage("bad name!").state()
        run = st.begin(total=3, config={"model": "a"}, input=b"input-1")
        with self.assertRaises(ckpt.CkptLocked) as locked:
            st.begin(total=3)
        self.assertEqual(locked.exception.details["runId"], run.id)
        run.pause()
        run.close()
        with self.assertRaises(ckpt.CkptInputChanged):
            st.begin(total=3, input=b"input-2")
        with self.assertRaises(ckpt.CkptConfigChanged):
            st.begin(total=3, config={"model": "b"}, input=b"input-1")
        fresh = st.begin(total=3, config={"model": "b"}, input=b"input-2", on_change="restart")
        self.assertTrue(fresh.resumed.restarted)
        with self.assertRaises(ckpt.CkptConflict):
            c.request("POST", f"{st.path}/runs/{fresh.id}/updates", {"updates": []}, headers={"if-match": '"0"'})
        with self.assertRaises(ckpt.CkptTooLarge):
            c.request("POST", f"{st.path}/runs/{fresh.id}/updates", {"updates": [{"type": "error", "message": "x" * 1000}] * 1100})
        with self.assertRaises(ckpt.CkptUnsupportedMediaType):
            c.request("POST", f"{st.path}/runs/{fresh.id}/updates", {"updates": []}, headers={"content-type": "text/plain"})
        fresh.close()
        with self.assertRaises(ckpt.CkptNotFound):
            c.request("POST", f"{st.path}/runs/{fresh.id}/updates", {"updates": [{"type": "pause"}]})
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        t = time.monotonic()
        with self.assertRaises(ckpt.CkptUnavailable):
            ckpt.Client(f"http://127.0.0.1:{port}", retry_for=0.5).stage("x").state()
        with self.assertRaises(ckpt.CkptInvalid):
            ckpt.Client("127.0.0.1:7410")
        self.assertLess(time.monotonic() - t, 5)

    def test_auth_codes(self) -> None:
        own = Server(tokens="admin:admin-secret-0123456789,write:write-secret-0123456789")
        try:
            with self.assertRaises(ckpt.CkptUnauthorized) as e:
                ckpt.Client(own.url, token="nope").stage("s").state()
            self.assertEqual(e.exception.status, 401)
            writer = ckpt.Client(own.url, token="write-secret-0123456789")
            with writer.stage("s").begin(total=1) as run:
                run.done(0)
            with self.assertRaises(ckpt.CkptForbidden):
                writer.compact(maxEvents=1)
            self.assertEqual(ckpt.Client(own.url, token="admin-secret-0123456789").compact(maxEvents=1, dryRun=True)["dryRun"], True)
        finally:
            own.close()


class _Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 429 then 503 (with Retry-After) and then 200; or a 409 that must never be retried."""

    calls = 0

    def do_GET(self) -> None:  # noqa: N802
        type(self).calls += 1
        n = type(self).calls
        if self.path.startswith("/v1/stages/refused"):
            self._send(409, {"error": {"code": "CKPT_LOCKED", "message": "no"}})
        elif n == 1:
            self._send(429, {"error": {"code": "CKPT_BUSY", "message": "busy"}}, {"retry-after": "0.3"})
        elif n == 2:
            self._send(503, {"error": {"code": "CKPT_UNAVAILABLE", "message": "restarting"}}, {"retry-after": "0.3"})
        else:
            self._send(200, {"stage": "s", "ok": True})

    def _send(self, status: int, body: object, headers: dict = {}) -> None:  # noqa: B006
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in {"content-type": "application/json", "content-length": str(len(data)), **headers}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a: object) -> None:
        pass


class RetryTest(unittest.TestCase):
    def test_429_and_503_are_retried_honouring_retry_after_and_refusals_are_not(self) -> None:
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            c = ckpt.Client(f"http://127.0.0.1:{httpd.server_address[1]}", retry_for=10)
            t = time.monotonic()
            self.assertEqual(c.stage("s").state(), {"stage": "s", "ok": True})
            self.assertGreaterEqual(time.monotonic() - t, 0.6)  # two Retry-After waits of 0.3 s
            self.assertEqual((_Flaky.calls, c._http.retries), (3, 2))
            with self.assertRaises(ckpt.CkptLocked):
                c.stage("refused").state()
            self.assertEqual((_Flaky.calls, c._http.retries), (4, 2))  # asked once, never retried
        finally:
            httpd.shutdown()
            httpd.server_close()


if __name__ == "__main__":
    unittest.main()
