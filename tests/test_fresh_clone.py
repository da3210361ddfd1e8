"""A clone of this repository with no ../shared beside it passes: every test that reads
../shared skips, with its reason, before anything can raise."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT


def _tests_reading_shared() -> list[str]:
    """Node ids of the test functions that call ``need`` (tests/conftest.py), directly or through
    a helper of their module."""
    nodes = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        functions = {f.name: f for f in ast.parse(path.read_text()).body if isinstance(f, ast.FunctionDef)}
        calls = {name: {c.func.id for c in ast.walk(f) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
                 for name, f in functions.items()}
        readers, grown = {"need"}, True
        while grown:
            more = {name for name, called in calls.items() if called & readers} - readers
            readers |= more
            grown = bool(more)
        nodes += [f"tests/{path.name}::{name}" for name in functions if name.startswith("test_") and name in readers]
    return nodes


def test_a_clone_without_shared_skips_what_needs_it(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of songscope")
    nodes = _tests_reading_shared()
    assert len(nodes) >= 10  # the STONE parity tests, the real recordings, madmom's reference outputs
    clone = tmp_path / "alone" / "songscope"  # no shared/ beside it
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = {**os.environ, "PYTHONPATH": str(clone / "src")}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *nodes],
                         cwd=clone, env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-3000:]
    skipped = [line for line in run.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped and all("../shared folder with test data is absent" in line for line in skipped), skipped
    assert " passed" not in run.stdout.splitlines()[-1], run.stdout[-500:]  # all of them skipped
    assert str(tmp_path / "alone" / "shared") in skipped[0]
