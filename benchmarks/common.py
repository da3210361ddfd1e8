"""Helpers shared by the benchmark scripts: test audio of a given length, one-core pinning, means of
metric rows."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from songscope.synth import make_song, render_song

SHARED = Path(__file__).resolve().parents[2] / "shared"
CACHE = Path(__file__).resolve().parents[1] / ".bench-cache"

LONG_FORM = (("intro", 8), ("verse", 16), ("chorus", 16), ("verse", 16), ("chorus", 16), ("bridge", 8),
             ("chorus", 16), ("outro", 8))


def pin_one_core() -> None:
    """Run this process on a single CPU core with single-threaded math libraries."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def mean(rows: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Mean of each metric over the rows that have a finite number for it (None when none has)."""
    out = {}
    for k in dict.fromkeys(k for row in rows for k in row):
        values = [row[k] for row in rows if row.get(k) is not None and np.isfinite(row[k])]
        out[k] = round(float(np.mean(values)), 4) if values else None
    return out


def song_file(seconds: float, sample_rate: int = 44100, channels: int = 2) -> Path:
    """A synthetic song of at least ``seconds``, tiled from a 4-minute-form song, written once
    to the benchmark cache as 16-bit FLAC (stereo 44.1 kHz by default)."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"song_{int(seconds)}s_{sample_rate}_{channels}ch.flac"
    if path.exists():
        return path
    song = make_song(seed=42, tempo=112.0, beats_per_bar=4, tonic=7, form=LONG_FORM)
    mix = render_song(song, sample_rate, seed=42)["mixture"]
    total = int(seconds * sample_rate)
    tmp = path.with_suffix(".part.flac")
    with sf.SoundFile(tmp, "w", sample_rate, channels, subtype="PCM_16") as handle:
        written = 0
        while written < total:
            block = mix[: total - written]
            handle.write(np.repeat(block[:, None], channels, axis=1) * 0.9)
            written += len(block)
    tmp.rename(path)
    return path
