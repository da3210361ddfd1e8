"""Ctrl-C and SIGTERM stop a batch quickly, cleanly and with the right exit status: a real
subprocess, a real signal, sent while work is in progress.

"Quickly" is a bound of a few seconds (the workers get a 1 s grace period), far below the minute
the rest of the batch would take, with room for a loaded CI machine. The child starts with SIGINT
at its default: a shell starts background jobs with SIGINT ignored, which Python (and so
songscope, rightly, like any nohup'd program) then keeps ignoring."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from songscope.result import load_result

from .conftest import SR


@pytest.fixture(scope="module")
def many_songs(tmp_path_factory, song44) -> Path:
    """Twenty copies of the 50-second 4/4 song: a batch that takes a while, even on a busy machine."""
    folder = tmp_path_factory.mktemp("many")
    for i in range(20):
        sf.write(folder / f"song{i:02d}.wav", song44[1]["mixture"], SR, subtype="PCM_16")
    return folder


STOP_SECONDS = 5.0


def _default_sigint() -> None:
    """In the child before exec: SIGINT back to its default whatever the test runner inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(args: list, out: Path, signum: int, started: str) -> tuple[subprocess.CompletedProcess, float]:
    """Start ``songscope ARGS``, wait until a file matching ``started`` exists under ``out``, send
    ``signum``; returns the finished process and the seconds from the signal to its exit."""
    process = subprocess.Popen([sys.executable, "-m", "songscope.cli", *map(str, args)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 120
    while not list(out.rglob(started)) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the batch ended before it could be interrupted"
    sent = time.monotonic()
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=30)
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr), time.monotonic() - sent


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_parallel_analyze_batch_stops_within_seconds(many_songs, tmp_path, signum, status):
    out = tmp_path / "out"
    # "song*.json": a finished result; the atomic writer's temporary ".song00.*.part.json" does not match
    result, seconds = _interrupt(["analyze", many_songs, "-o", out, "-j", "2", "--jams"], out, signum, "song*.json")
    assert result.returncode == status, result.stderr
    assert seconds < STOP_SECONDS, seconds
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"songscope: interrupted by {signal.Signals(signum).name}")
    done = sorted(out.glob("*.json"))
    assert 1 <= len(done) < 20
    for path in done:
        assert load_result(path).beats  # finished outputs are whole
    assert not [p for p in out.iterdir() if ".part" in p.name]  # nothing half-written


def test_a_separation_stops_within_seconds_and_leaves_no_partial_stems(many_songs, tmp_path):
    out = tmp_path / "stems"
    result, seconds = _interrupt(["separate", many_songs, "-o", out, "-q"], out, signal.SIGINT, ".vocals.*")
    assert result.returncode == 130 and seconds < STOP_SECONDS, (result.stderr, seconds)
    assert len(result.stderr.strip().splitlines()) == 1
    assert not [p for p in out.rglob("*") if ".part" in p.name]
    assert not out.exists() or not list(out.iterdir())  # the track being written leaves no folder behind
