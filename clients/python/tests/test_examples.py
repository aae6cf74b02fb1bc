"""The examples in clients/python/examples run as a user would run them (crash included) against a real ckpt-server."""
from __future__ import annotations

import os
import shutil
import signal
import tempfile
import unittest
import uuid

import ckpt

from .helpers import PKG, Server, worker

EX = os.path.join(PKG, "examples")


class ExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = Server()
        cls.env = {"CKPT_URL": cls.server.url}

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.close()

    def run_example(self, *args: str, expect: int = 0) -> str:
        p = worker([os.path.join(EX, args[0]), *args[1:]], env=self.env)
        out, err = p.communicate(timeout=120)
        self.assertEqual(p.returncode, expect, out + err)
        return out

    def test_checkpoint_manager_crash_and_continue(self) -> None:
        phase = f"synthesis-{uuid.uuid4().hex[:6]}"
        out = self.run_example("checkpoint_manager.py", "--phase", phase, "--iterations", "12", "--crash-at", "7", expect=-signal.SIGKILL)
        self.assertIn("starting at iteration 0 (fresh)", out)
        out = self.run_example("checkpoint_manager.py", "--phase", phase, "--iterations", "12")
        self.assertIn("starting at iteration 7 (latest checkpoint: iteration 6)", out)
        self.assertIn("newest checkpoints: [11, 10, 9]", out)
        best = max((it * 37) % 101 for it in range(12))
        self.assertIn(f"done: best={best}", out)
        self.assertEqual(ckpt.Client(self.server.url).stage(phase).state()["status"], "completed")

    def test_scrapy_style_loop_resumes_after_a_crash(self) -> None:
        stage = f"spider-{uuid.uuid4().hex[:6]}"
        out_dir = tempfile.mkdtemp(prefix="ckpt-pages-")
        try:
            out = self.run_example("scrapy_style.py", "--stage", stage, "--out", out_dir, "--requests", "100", "--crash-after", "40", expect=-signal.SIGKILL)
            self.assertIn("starting fresh", out)
            self.assertEqual(len(os.listdir(out_dir)), 40)
            out = self.run_example("scrapy_style.py", "--stage", stage, "--out", out_dir, "--requests", "100")
            self.assertIn("resuming after a crash; 40 items done will be skipped", out)
            self.assertIn("fetched 60 this run; stage is completed", out)
            self.assertEqual(len(os.listdir(out_dir)), 100)
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)

    def test_celery_style_chunk_workers_join_one_stage(self) -> None:
        stage = f"chunks-{uuid.uuid4().hex[:6]}"
        out = self.run_example("celery_chunks.py", "--stage", stage, "--workers", "4", "--items", "2000", "--chunk", "100")
        self.assertEqual(out.count("worker "), 4)
        self.assertIn(f"stage {stage}: completed, 2000 of 2000 items, 0 duplicates", out)


if __name__ == "__main__":
    unittest.main()
