"""Sonification: the original recording mixed with metronome clicks (accented downbeats)
and a bell-like tone at every section boundary, to check an analysis by ear."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..audio.signal import load
from ..audio.save import save_audio
from ..result import AnalysisResult

__all__ = ["click", "render_sonification", "sonify"]


def click(sample_rate: int, freq: float, seconds: float = 0.06, decay: float = 0.012) -> np.ndarray:
    """A decaying sine burst (N,) of ``seconds`` at ``freq`` Hz, peak 1."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return np.sin(2 * np.pi * freq * t) * np.exp(-t / decay)


def _boundary_tone(sample_rate: int) -> np.ndarray:
    t = np.arange(int(0.6 * sample_rate)) / sample_rate
    partials = sum(a * np.sin(2 * np.pi * f * t) for f, a in ((523.25, 1.0), (1318.5, 0.5), (2093.0, 0.25)))
    return partials / 1.75 * np.exp(-t / 0.18)


def _add(track: np.ndarray, sound: np.ndarray, times: Sequence[float], sample_rate: int, gain: float) -> None:
    for time in times:
        start = int(round(time * sample_rate))
        if 0 <= start < track.shape[-1]:
            n = min(len(sound), track.shape[-1] - start)
            track[..., start:start + n] += gain * sound[:n]


def render_sonification(result: AnalysisResult, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mix clicks into ``audio`` (channels, N): 1 kHz beats, 2 kHz louder downbeats, a chime at
    each section start after the first. The mix is scaled down if it would clip."""
    out = np.array(audio, dtype=np.float32, copy=True) * 0.7
    downbeats = set(np.round(result.downbeats, 4).tolist())
    plain = [b for b in result.beats if round(b, 4) not in downbeats]
    _add(out, click(sample_rate, 1000.0), plain, sample_rate, 0.35)
    _add(out, click(sample_rate, 2000.0), sorted(downbeats), sample_rate, 0.6)
    _add(out, _boundary_tone(sample_rate), [s.start for s in result.segments[1:]], sample_rate, 0.5)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    return out / peak * 0.99 if peak > 0.99 else out


def sonify(results: AnalysisResult | Sequence[AnalysisResult], out_dir: str | os.PathLike | None = None):
    """allin1-style: sonifications of one or several results.

    Returns:
        ``(audio (channels, N), sample_rate)`` or a list of them; written to
        ``out_dir/<name>.sonif.wav`` when ``out_dir`` is given.
    """
    items = [results] if isinstance(results, AnalysisResult) else list(results)
    outputs = []
    for result in items:
        audio, sr = load(result.path)
        mix = render_sonification(result, audio, sr)
        if out_dir is not None:
            save_audio(Path(out_dir) / f"{Path(result.path).stem}.sonif.wav", mix, sr)
        outputs.append((mix, sr))
    return outputs[0] if isinstance(results, AnalysisResult) else outputs
