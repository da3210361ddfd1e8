"""Shared fixtures: paths to ../shared (skipping cleanly when absent), synthetic songs with
exact ground truth, and a CLI runner.

Every test, and every songscope process a test starts, runs its numeric libraries on one thread:
on the small arrays of the tests a second thread only adds synchronisation, which costs a lot on
a busy machine (a training test took 10 times longer with two threads when the cores were shared).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songscope.cli import main
from songscope.synth import make_song, render_song

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BEATS_DIR = SHARED / "data" / "beats"
KEY_DIR = SHARED / "data" / "key"
STONE_DIR = SHARED / "checkpoints" / "stone"
SR = 22050

FORM = (("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8), ("outro", 4))


def need(path: Path) -> Path:
    """Skip the test, saying why, when a file of ../shared is absent."""
    if not path.exists():
        pytest.skip(f"{path} not present (the ../shared folder with test data is absent)")
    return path


def need_tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} is not installed (scripts/system-deps.sh installs it)")
    return exe


@pytest.fixture(scope="session")
def song44():
    """A 4/4 synthetic song (seed 3, 100 BPM, E minor) and its rendered stems at 22.05 kHz."""
    song = make_song(seed=3, tempo=100.0, beats_per_bar=4, tonic=4, minor=True, form=FORM)
    return song, render_song(song, SR, seed=3)


@pytest.fixture(scope="session")
def song34():
    """A 3/4 synthetic song (seed 5, 132 BPM, Bb major) and its stems at 22.05 kHz."""
    song = make_song(seed=5, tempo=132.0, beats_per_bar=3, tonic=10, minor=False, form=FORM)
    return song, render_song(song, SR, seed=5)


@pytest.fixture(scope="session")
def song_file(tmp_path_factory, song44) -> Path:
    """The 4/4 song as a 16-bit WAV file."""
    path = tmp_path_factory.mktemp("song") / "song.wav"
    sf.write(path, song44[1]["mixture"], SR, subtype="PCM_16")
    return path


@pytest.fixture(scope="session")
def short_song_file(tmp_path_factory, song44) -> Path:
    """The first 8 s of the 4/4 song as a 16-bit WAV file (for tests of plumbing, not of accuracy)."""
    path = tmp_path_factory.mktemp("short") / "song.wav"
    sf.write(path, song44[1]["mixture"][: 8 * SR], SR, subtype="PCM_16")
    return path


@pytest.fixture
def distinct_songs(tmp_path, song44) -> Path:
    """Six 8-second excerpts of the 4/4 song with different contents (other starts and gains)."""
    folder = tmp_path / "music"
    folder.mkdir()
    mix = song44[1]["mixture"]
    for i in range(6):
        sf.write(folder / f"song{i}.wav", (0.5 + 0.08 * i) * mix[i * SR:(i + 8) * SR], SR, subtype="PCM_16")
    return folder


def write_tone(path: Path, seconds: float = 2.0, sr: int = SR, channels: int = 1, freq: float = 440.0,
               subtype: str | None = None) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    data = 0.3 * np.sin(2 * np.pi * freq * t)
    data = np.repeat(data[:, None], channels, axis=1) if channels > 1 else data
    sf.write(path, data, sr, subtype=subtype)
    return path


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Torch on one thread for the whole run, and one OpenMP/BLAS thread in the songscope processes
    that tests start (see the module docstring)."""
    import torch

    torch.set_num_threads(1)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"


class CLIResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys):
    """Run ``songscope ARGS`` in-process; returns exit code and captured output."""
    def run(*args: str) -> CLIResult:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CLIResult(code, captured.out, captured.err)
    return run


def run_console(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed console entry point as a separate process."""
    return subprocess.run([sys.executable, "-m", "songscope.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, check=False)
