"""Figures of analysis results: waveform envelope or activations, beats, downbeats, and
coloured, labelled sections."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..atomic import atomic_path
from ..result import AnalysisResult
from ..conventions import HARMONIX_LABELS

__all__ = ["LABEL_COLORS", "plot_result", "save_figure", "visualize"]

#: One colour per label, in HARMONIX_LABELS order (colour-blind-safe palette + greys).
LABEL_COLORS = dict(zip(HARMONIX_LABELS, (
    "#bbbbbb", "#888888", "#88ccee", "#332288", "#ddcc77", "#117733",
    "#44aa99", "#aa4499", "#6699cc", "#cc6677",
)))


def _envelope(mono: np.ndarray, sample_rate: int, points: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Peak envelope (times, values) of a signal reduced to about ``points`` columns."""
    hop = max(1, len(mono) // points)
    usable = len(mono) // hop * hop
    peaks = np.abs(mono[:usable]).reshape(-1, hop).max(axis=1)
    return (np.arange(len(peaks)) + 0.5) * hop / sample_rate, peaks


def plot_result(result: AnalysisResult, mono: np.ndarray | None = None, sample_rate: int | None = None):
    """A matplotlib figure of one result.

    Top panel: waveform envelope (if ``mono`` is given) or beat/downbeat activations
    (if the result carries them), with beats (thin grey) and downbeats (thick black).
    Bottom panel: the sections as coloured, labelled spans.
    """
    from matplotlib.figure import Figure

    duration = float(result.duration or (result.segments[-1].end if result.segments else 1.0))
    fig = Figure(figsize=(14, 4), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    if mono is not None and sample_rate:
        t, env = _envelope(mono, sample_rate)
        top.fill_between(t, -env, env, color="#5a7d9a", linewidth=0)
        top.set_ylabel("amplitude")
    elif result.activations is not None:
        t = np.arange(len(result.activations["beat"])) / 100.0
        top.plot(t, result.activations["beat"], color="#5a7d9a", linewidth=0.7, label="beat")
        top.plot(t, result.activations["downbeat"], color="#cc6677", linewidth=0.7, label="downbeat")
        top.legend(loc="upper right", fontsize=8)
        top.set_ylabel("activation")
    for b in result.beats:
        top.axvline(b, color="#999999", linewidth=0.4)
    for d in result.downbeats:
        top.axvline(d, color="black", linewidth=1.0)
    key = f" | {result.key}" if result.key else ""
    meter = f" | {result.time_signature}" if result.time_signature else ""
    top.set_title(f"{Path(result.path).name} | {result.bpm} BPM{meter}{key}", fontsize=10)
    for seg in result.segments:
        bottom.axvspan(seg.start, seg.end, color=LABEL_COLORS.get(seg.label, "#dddddd"))
        if seg.end - seg.start > 0.02 * duration:
            bottom.text(0.5 * (seg.start + seg.end), 0.5, seg.label, ha="center", va="center",
                        fontsize=8, color="white" if seg.label in {"outro", "bridge", "chorus", "solo"} else "black")
    bottom.set_yticks([])
    bottom.set_xlim(0, duration)
    bottom.set_xlabel("time (s)")
    return fig


def save_figure(result: AnalysisResult, path: str | Path, mono: np.ndarray | None = None,
                sample_rate: int | None = None) -> Path:
    """Save the figure of ``result`` to ``path`` (format from the suffix), atomically."""
    fig = plot_result(result, mono, sample_rate)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "pdf")
    return Path(path)


def visualize(results: AnalysisResult | Sequence[AnalysisResult], out_dir: str | os.PathLike | None = None,
              fmt: str = "pdf"):
    """allin1-style: figures of one or several results; saved as ``<name>.<fmt>`` in ``out_dir``.

    The waveform is read from each result's ``path`` when the file is still there.

    Returns:
        a figure, or a list of figures for a list of results.
    """
    from ..audio.features import ANALYSIS_SR
    from ..audio.signal import load_mono
    from ..errors import SongscopeError

    items = [results] if isinstance(results, AnalysisResult) else list(results)
    figures = []
    for result in items:
        try:
            mono, _ = load_mono(result.path, ANALYSIS_SR)
        except SongscopeError:
            mono = None
        if out_dir is not None:
            save_figure(result, Path(out_dir) / f"{Path(result.path).stem}.{fmt}", mono, ANALYSIS_SR)
        figures.append(plot_result(result, mono, ANALYSIS_SR))
    return figures[0] if isinstance(results, AnalysisResult) else figures
