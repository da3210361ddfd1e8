"""CoverHunter's input features: a log-magnitude constant-Q transform at 25 frames per second.

CoverHunterMPS (``tools/extract_csi_features.py``, ``tools/identify.py``) computes them with
nnAudio's ``CQT1992v2`` (its ``CQT``) on a 16 kHz mono signal peak-normalised to 0.999:
hop 640 samples (0.04 s), 12 bins per octave, 96 bins from 32 Hz, every bin's atom a periodic
Hann window of ``ceil(Q * sr / f_k)`` samples times ``exp(2 pi i f_k tau / sr)`` with unit L1
norm (:func:`songscope.audio.cqt.cqt_atoms`, the kernel design songscope shares), the signal
reflect-padded by half the longest atom's power-of-two width, each bin scaled by the square
root of its window length (librosa's convention). The magnitude ``M`` becomes decibels below
the recording's loudest bin: ``20 log10(M + 1e-9) - 20 log10(max(M + 1e-9))``, so every value
is at most 0.

Here the CQT is the same correlation evaluated directly in float64, octave by octave on the
taps where the atoms are non-zero (nnAudio convolves the full power-of-two width in float32).

The network reads chunks: ``chunk_frames * mean_size`` feature frames (135 s by default) from
the start, padded with -100 dB when the recording is shorter, averaged over ``mean_size``
consecutive frames (CoverHunter's ``shorter``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..audio.cqt import ConstantQ, cqt_atoms
from ..errors import AudioError

__all__ = ["CSI_SAMPLE_RATE", "PAD_DB", "CSIFeatureSpec", "chunk_features", "csi_cqt", "csi_features",
           "mean_pool"]

#: Sample rate (Hz) of every CoverHunter feature.
CSI_SAMPLE_RATE = 16000
#: Value (dB) that fills the frames of a chunk past the end of a recording.
PAD_DB = -100.0
_PEAK = 0.999
_MIN_PEAK = 0.001
_FLOOR = 1e-9
_BLOCK_FRAMES = 512


@dataclass(frozen=True)
class CSIFeatureSpec(ConstantQ):
    """CQT settings (CoverHunterMPS's data ``hparams.yaml``: ``fmin``, ``n_bins``,
    ``bins_per_octave``; the training one's ``cqt.hop_size``).

    Attributes:
        sample_rate: Hz. hop: samples between frames (640 = 0.04 s at 16 kHz).
        fmin: centre frequency of the lowest bin (Hz). n_bins: bins. bins_per_octave: bins per octave.
        filter_scale: window length factor (1: ``Q = 1 / (2^(1/B) - 1)``).
    """

    sample_rate: int = CSI_SAMPLE_RATE
    hop: int = 640
    fmin: float = 32.0
    n_bins: int = 96
    bins_per_octave: int = 12
    filter_scale: float = 1.0

    @property
    def pad(self) -> int:
        """Samples of reflection padding on each side: half the longest window's power-of-two width."""
        return int(2 ** np.ceil(np.log2(self.lengths.max()))) // 2


@lru_cache(maxsize=4)
def _octave_kernels(spec: CSIFeatureSpec) -> tuple[tuple[int, int, np.ndarray], ...]:
    """Per group of ``bins_per_octave`` bins: (first tap, taps, real kernel (taps, 2 * bins)).

    Tap ``j`` of a group multiplies padded sample ``t * hop + first + j`` of frame ``t``; the
    kernel's columns are the atoms' real parts, then their imaginary parts, scaled by
    ``sqrt(window length)``.
    """
    freqs = spec.frequencies
    if freqs[-1] >= spec.sample_rate / 2:
        raise ValueError("the highest CQT bin must lie below the Nyquist frequency")
    atoms = cqt_atoms(freqs, spec.sample_rate, spec.q)  # (n_bins, 2 * pad): column c is tap c of a frame
    # nnAudio keeps float32 kernels and float32 window lengths
    atoms = atoms.astype(np.complex64).astype(np.complex128)
    scale = np.sqrt(spec.lengths.astype(np.float32)).astype(np.float64)
    groups = []
    for start in range(0, spec.n_bins, spec.bins_per_octave):
        rows = slice(start, min(start + spec.bins_per_octave, spec.n_bins))
        used = np.flatnonzero(np.any(atoms[rows] != 0, axis=0))
        first, last = int(used[0]), int(used[-1]) + 1
        block = atoms[rows, first:last] * scale[rows, None]
        kernel = np.concatenate([block.real, block.imag], axis=0).T
        groups.append((first, last - first, np.ascontiguousarray(kernel)))
    return tuple(groups)


def csi_cqt(signal: np.ndarray, spec: CSIFeatureSpec = CSIFeatureSpec()) -> np.ndarray:
    """CQT magnitude as nnAudio's ``CQT1992v2`` gives it (reflect padding, librosa scaling).

    Args:
        signal: (N,) samples at ``spec.sample_rate``; N must exceed ``spec.pad`` (0.512 s at
            the defaults), the reflection's reach.
        spec: transform settings.

    Returns:
        (frames, n_bins) float64 magnitude, ``frames = N // hop + 1``; frame ``t`` is centred
        on sample ``t * hop``. A unit sine at a bin centre gives ``0.5 * sqrt(window length)``.

    Raises:
        AudioError: the signal is too short to reflect.
    """
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1 or len(x) <= spec.pad:
        raise AudioError(f"audio too short for CoverHunter's CQT: needs more than {spec.pad / spec.sample_rate:.3f} s")
    padded = np.pad(x, spec.pad, mode="reflect")
    frames = len(x) // spec.hop + 1
    out = np.empty((frames, spec.n_bins))
    for group, (first, taps, kernel) in enumerate(_octave_kernels(spec)):
        windows = sliding_window_view(padded[first:], taps)[:: spec.hop][:frames]
        bins = kernel.shape[1] // 2
        cols = slice(group * spec.bins_per_octave, group * spec.bins_per_octave + bins)
        for block in range(0, frames, _BLOCK_FRAMES):
            product = windows[block:block + _BLOCK_FRAMES] @ kernel
            out[block:block + _BLOCK_FRAMES, cols] = np.hypot(product[:, :bins], product[:, bins:])
    return out


def csi_features(signal: np.ndarray, spec: CSIFeatureSpec = CSIFeatureSpec()) -> np.ndarray:
    """CoverHunter's features of a recording: CQT decibels below its loudest bin.

    Args:
        signal: (N,) mono samples at ``spec.sample_rate`` (any scale: peak-normalised here).
        spec: transform settings.

    Returns:
        (frames, n_bins) float32, values <= 0 dB; ``frames = N // hop + 1`` (25 per second).

    Raises:
        AudioError: the signal is too short (see :func:`csi_cqt`).
    """
    x = np.asarray(signal, dtype=np.float64)
    peak = np.abs(x).max() if x.size else 0.0
    magnitude = csi_cqt(x / max(_MIN_PEAK, peak) * _PEAK, spec) + _FLOOR
    return (20 * np.log10(magnitude) - 20 * np.log10(magnitude.max())).astype(np.float32)


def mean_pool(features: np.ndarray, size: int) -> np.ndarray:
    """Means of ``size`` consecutive frames (CoverHunter's ``shorter``); a remainder is dropped.

    Args:
        features: (T, F). size: frames per mean.

    Returns:
        (T // size, F) float32.
    """
    frames = len(features) // size
    return features[: frames * size].reshape(frames, size, -1).mean(axis=1, dtype=np.float64).astype(np.float32)


def chunk_features(features: np.ndarray, frames: int, start: int = 0) -> np.ndarray:
    """``frames`` feature frames from ``start``, padded with :data:`PAD_DB` past the end.

    Args:
        features: (T, F) features of a recording. frames: chunk length. start: first frame.

    Returns:
        (frames, F) float32.
    """
    chunk = features[start:start + frames]
    missing = frames - len(chunk)
    return np.pad(chunk, ((0, missing), (0, 0)), constant_values=PAD_DB).astype(np.float32)
