"""Source activity detection (SAD) of the Band-Split RNN recipe: which fragments of a stem are salient.

Luo & Yu (2022) train on fragments where the target source is active; the public implementation
(``prepare_dataset.py`` with ``conf/sad/default.yaml``) picks them so: cut the stem into windows
of ``window_seconds``, one starting every ``hop`` windows (their ``overlap_ratio``); cut each
window into ``chunks`` equal chunks and take their RMS (exact zeros become ``eps``); the window's
threshold is the ``quantile`` of its chunk RMS values, at least ``gamma``; the window is salient
when, in every channel, more than ``threshold`` of its chunks lie above that threshold. The
result is the start sample of each salient window. (A perfectly steady tone has equal chunk RMS
values, none of them above their own quantile: the rule finds it not salient, up to rounding.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = ["SADConfig", "salient_fragments"]


@dataclass(frozen=True)
class SADConfig:
    """Settings of :func:`salient_fragments` (defaults: the public ``conf/sad/default.yaml``).

    Attributes:
        window_seconds: fragment length (s). hop: distance between fragment starts, as a fraction of
            the window (their ``overlap_ratio``: 0.5 starts a fragment every half window).
        chunks: chunks per window. eps: RMS given to silent chunks. gamma: lowest threshold (RMS).
        quantile: quantile of the chunk RMS values that sets a window's threshold.
        threshold: fraction of chunks above it that makes a channel active.
    """

    window_seconds: float = 6.0
    hop: float = 0.5
    chunks: int = 10
    eps: float = 1e-5
    gamma: float = 1e-3
    quantile: float = 0.15
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.window_seconds <= 0 or not 0 < self.hop <= 1 or self.chunks < 1:
            raise ConfigError("SAD: window_seconds must be positive, hop in (0, 1], chunks at least 1")
        if not 0 <= self.quantile <= 1 or not 0 <= self.threshold < 1:
            raise ConfigError("SAD: quantile must be in [0, 1] and threshold in [0, 1)")

    def window(self, sample_rate: int) -> tuple[int, int]:
        """(window, step) in samples at ``sample_rate``."""
        window = int(round(sample_rate * self.window_seconds))
        return window, max(1, int(window * self.hop))


def _chunk_rms(wave: np.ndarray, starts: np.ndarray, window: int, chunks: int) -> np.ndarray:
    """(C, N) -> (C, W, chunks): RMS of each chunk of each window (chunks of ceil(window / chunks)
    samples, the last one shorter), one window in memory at a time."""
    size = -(-window // chunks)
    offsets = np.arange(0, window, size)
    lengths = np.diff(np.append(offsets, window))
    out = np.empty((wave.shape[0], len(starts), len(offsets)))
    for i, start in enumerate(starts):
        squares = np.square(wave[:, start:start + window], dtype=np.float64)
        out[:, i] = np.add.reduceat(squares, offsets, axis=-1) / lengths
    return np.sqrt(out)


def salient_fragments(wave: np.ndarray, sample_rate: int, config: SADConfig = SADConfig()) -> np.ndarray:
    """Start samples of the salient windows of one stem.

    Args:
        wave: (C, N) or (N,) samples of the stem. sample_rate: Hz. config: the SAD settings.

    Returns:
        (K,) int64 start samples, ascending; each fragment spans ``config.window(sample_rate)[0]``
        samples. Empty when the stem is shorter than one window.
    """
    wave = np.atleast_2d(np.asarray(wave))
    window, step = config.window(sample_rate)
    if wave.shape[-1] < window:
        return np.zeros(0, dtype=np.int64)
    starts = np.arange(0, wave.shape[-1] - window + 1, step)
    rms = _chunk_rms(wave, starts, window, config.chunks)  # C, W, chunks
    rms[rms == 0.0] = config.eps
    floor = np.maximum(np.quantile(rms, config.quantile, axis=-1, keepdims=True), config.gamma)
    active = np.mean(rms > floor, axis=-1) > config.threshold  # C, W
    return starts[active.all(axis=0)].astype(np.int64)
