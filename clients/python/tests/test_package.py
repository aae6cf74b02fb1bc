"""The package as a user gets it: pip installs ./clients/python offline, it is typed, it imports only the standard library, and parses as Python 3.9."""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from .helpers import PKG

SOURCES = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(PKG, "ckpt")) for f in fs if f.endswith(".py")]


class PackageTest(unittest.TestCase):
    def test_pip_installs_it_with_no_network_and_it_is_typed(self) -> None:
        target = tempfile.mkdtemp(prefix="ckpt-pip-")
        try:
            r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--target", target, PKG], capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertTrue(os.path.exists(os.path.join(target, "ckpt", "py.typed")))
            meta = [d for d in os.listdir(target) if d.startswith("ckpt_client-") and d.endswith(".dist-info")]
            self.assertEqual(meta, ["ckpt_client-0.1.0.dist-info"])
            out = subprocess.run([sys.executable, "-c", "import ckpt, sys; print(ckpt.__file__, ckpt.Client.__name__)"], env={**os.environ, "PYTHONPATH": target}, cwd=target, capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertTrue(out.stdout.startswith(os.path.join(target, "ckpt")), out.stdout)
        finally:
            shutil.rmtree(target, ignore_errors=True)

    def test_standard_library_only_and_python_3_9_syntax(self) -> None:
        # sys.stdlib_module_names is 3.10+; on 3.9 name the modules the client may use.
        stdlib = set(getattr(sys, "stdlib_module_names", ())) or {"__future__", "bisect", "collections", "dataclasses", "hashlib", "http", "json", "math", "os", "random", "signal", "socket", "sys", "threading", "time", "types", "typing", "urllib"}
        for path in SOURCES:
            with open(path) as f:
                tree = ast.parse(f.read(), path, feature_version=(3, 9))
            for node in ast.walk(tree):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
                for n in names:
                    top = n.split(".")[0]
                    self.assertTrue(top in stdlib or top == "tqdm", f"{path} imports {n}")  # tqdm only lazily, when asked for

    def test_every_public_function_is_annotated(self) -> None:
        for path in SOURCES:
            with open(path) as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_") or isinstance(node, ast.FunctionDef) and node.name in ("__init__", "__enter__", "__exit__"):
                    args = [a for a in node.args.args + node.args.kwonlyargs if a.arg not in ("self", "cls")]
                    missing = [a.arg for a in args if a.annotation is None]
                    self.assertEqual(missing, [], f"{path}:{node.lineno} {node.name}")
                    self.assertIsNotNone(node.returns, f"{path}:{node.lineno} {node.name} has no return annotation")


if __name__ == "__main__":
    unittest.main()
