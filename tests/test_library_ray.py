"""``library run --executor ray`` on a Ray instance of two workers on loopback, with one worker
killed while it analyses a track: Ray runs that task again and every track is recorded once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from songscope.library.catalog import Catalog
from songscope.library.jobs import add_paths


pytest.importorskip("ray")


def _busy_ray_workers() -> list[int]:
    """PIDs of Ray worker processes running a songscope task (Ray titles them after the function)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"ray::call_guarded" in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def test_a_killed_ray_worker_loses_nothing_and_duplicates_nothing(tmp_path, distinct_songs):
    db = tmp_path / "c.db"
    with Catalog(db) as catalog:
        add_paths(catalog, [distinct_songs])
    run = subprocess.Popen([sys.executable, "-m", "songscope.cli", "library", "run", "analyze", "--catalog", str(db),
                            "--executor", "ray", "-j", "2", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    deadline, killed = time.monotonic() + 180, None
    while killed is None and run.poll() is None and time.monotonic() < deadline:
        busy = _busy_ray_workers()
        if busy:
            killed = busy[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    out, err = run.communicate(timeout=300)
    assert killed is not None, "no Ray worker was seen running a task"
    assert run.returncode == 0, err
    rows = sqlite3.connect(db).execute("SELECT sha256, COUNT(*) FROM results GROUP BY sha256").fetchall()
    assert len(rows) == 6 and all(count == 1 for _, count in rows)
    assert err == ""  # Ray's own log lines stay out of songscope's output
