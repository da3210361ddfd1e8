"""The classic separation engine: no weights, works offline.

On one window of stereo audio (``chunked.py`` streams longer files):
1. harmonic/percussive separation by median filtering the magnitude spectrogram along time
   and along frequency (Fitzgerald 2010) -> soft masks;
2. bass: the harmonic part below ``bass_cutoff`` Hz (a smooth low-pass weight);
3. vocals vs other on the remaining harmonic part: REPET-SIM (Rafii & Pardo 2012): for each
   frame, the median of its most similar frames models the repeating accompaniment
   ("other"); what does not repeat is the lead ("vocals"), weighted towards the vocal range;
4. the four magnitude estimates become Wiener-like soft masks (squared magnitudes over their
   sum) applied to the complex stereo STFT, so the stems sum to the mixture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

from ..conventions import STEMS

__all__ = ["ClassicConfig", "separate_classic"]

_EPS = 1e-10
_MEDIAN_BLOCK = 32  # frames per block of the REPET-SIM median


@dataclass(frozen=True)
class ClassicConfig:
    """Settings of the classic engine (frequencies in Hz, durations in seconds).

    Attributes:
        n_fft, hop: STFT size and step in samples (at 44.1 kHz: 93 ms, 23 ms).
        harmonic_seconds: median filter length along time (harmonic part).
        percussive_hz: median filter length along frequency (percussive part).
        bass_cutoff: corner of the bass low-pass (4th-order-like roll-off).
        similar_fraction: share of a window's frames whose median models the repeating
            accompaniment of a frame (the most similar ones; at least 5 frames).
        min_distance: minimum time between a frame and the frames modelling it.
        vocal_range: band where the lead is expected; outside it the foreground goes to "other".
        window_seconds: chunk length used for long files (``chunked.py``).
    """

    n_fft: int = 4096
    hop: int = 1024
    harmonic_seconds: float = 0.4
    percussive_hz: float = 500.0
    bass_cutoff: float = 180.0
    similar_fraction: float = 0.15
    min_distance: float = 1.0
    vocal_range: tuple[float, float] = (150.0, 8000.0)
    window_seconds: float = 24.0


def _repet_sim(magnitude: np.ndarray, count: int, min_gap: int, rows: slice) -> np.ndarray:
    """Repeating-background model of the bins ``rows`` (F', T): per frame, the median of its
    ``count`` most similar frames (cosine similarity over all bins) at least ``min_gap`` frames
    away (itself included)."""
    frames = magnitude.shape[1]
    unit = magnitude / (np.linalg.norm(magnitude, axis=0, keepdims=True) + _EPS)
    similarity = unit.T @ unit
    idx = np.arange(frames)
    similarity[np.abs(idx[:, None] - idx[None, :]) < min_gap] = -np.inf
    np.fill_diagonal(similarity, np.inf)
    count = min(count, frames)
    nearest = np.argpartition(-similarity, count - 1, axis=1)[:, :count]
    magnitude = magnitude[rows].astype(np.float32)
    model = np.empty_like(magnitude)
    for start in range(0, frames, _MEDIAN_BLOCK):  # (F, block, count) at a time bounds memory
        stop = min(frames, start + _MEDIAN_BLOCK)
        model[:, start:stop] = np.median(magnitude[:, nearest[start:stop]], axis=2)
    return np.minimum(model, magnitude)


def separate_classic(audio: np.ndarray, sample_rate: int, config: ClassicConfig = ClassicConfig()) -> np.ndarray:
    """Separate one window of audio into bass, drums, other, vocals.

    Args:
        audio: (C, N) float samples.
        sample_rate: Hz.
        config: engine settings.

    Returns:
        (4, C, N) float32 stems in :data:`STEMS` order; they sum to ``audio`` up to the STFT's
        reconstruction error (~1e-6).
    """
    audio = np.asarray(audio, dtype=np.float32)
    length = audio.shape[-1]
    _, _, spec = signal.stft(audio, fs=sample_rate, window="hann", nperseg=config.n_fft,
                             noverlap=config.n_fft - config.hop, boundary="zeros", padded=True)
    magnitude = np.abs(spec).mean(axis=0)  # F, T
    freqs = np.arange(magnitude.shape[0]) * sample_rate / config.n_fft
    time_len = max(3, int(round(config.harmonic_seconds * sample_rate / config.hop)) | 1)
    freq_len = max(3, int(round(config.percussive_hz * config.n_fft / sample_rate)) | 1)
    harmonic = ndimage.median_filter(magnitude, size=(1, time_len), mode="nearest")
    percussive = ndimage.median_filter(magnitude, size=(freq_len, 1), mode="nearest")
    share = harmonic ** 2 / (harmonic ** 2 + percussive ** 2 + _EPS)
    tonal, drums = share * magnitude, (1.0 - share) * magnitude
    low = 1.0 / (1.0 + (freqs / config.bass_cutoff) ** 8)
    bass = tonal * low[:, None]
    rest = tonal * (1.0 - low[:, None])
    gap = max(1, int(round(config.min_distance * sample_rate / config.hop)))
    count = max(5, int(round(config.similar_fraction * rest.shape[1])))
    lo, hi = config.vocal_range
    band = slice(int(np.searchsorted(freqs, lo)), int(np.searchsorted(freqs, hi, side="right")))
    vocals = np.zeros_like(rest)  # the lead lives in the vocal range only
    vocals[band] = rest[band] - _repet_sim(rest, count, gap, band)
    other = rest - vocals
    sources = np.stack([bass, drums, other, vocals])  # STEMS order
    power = sources ** 2
    total = power.sum(axis=0)
    masks = np.full_like(power, 1.0 / len(STEMS))
    np.divide(power, total, out=masks, where=total > 0)
    stems = []
    for mask in masks:
        _, wave = signal.istft(spec * mask[None], fs=sample_rate, window="hann", nperseg=config.n_fft,
                               noverlap=config.n_fft - config.hop, boundary=True)
        stems.append(wave[..., :length])
    return np.stack(stems).astype(np.float32)
