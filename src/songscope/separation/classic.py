"""The classic separation engine: no weights, works offline.

On one window of stereo audio (``chunked.py`` streams longer files), one STFT (93 ms window at
44.1 kHz) and soft masks that sum to one in every bin:
1. drums: harmonic/percussive separation by median filtering the magnitude spectrogram along
   time and along frequency (Fitzgerald 2010); the percussive soft mask (magnitudes to
   ``drum_power``) is the drum mask, the rest of each bin is tonal;
2. bass: the tonal part below ``bass_cutoff`` Hz (a smooth low-pass weight);
3. vocals vs other on the tonal part above it: REPET-SIM (Rafii & Pardo 2012): for each frame,
   the median of its most similar frames models the repeating accompaniment ("other"); what
   does not repeat is the lead ("vocals"), in the vocal range only; the two share that part
   by their magnitudes to ``mask_power``.
The masks are applied to the complex stereo STFT, so the stems sum to the mixture up to the
STFT's reconstruction error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal


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
        drum_power: exponent of the harmonic/percussive soft mask.
        mask_power: exponent of the vocals/other soft masks.
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
    drum_power: float = 2.0
    mask_power: float = 1.0
    bass_cutoff: float = 250.0
    similar_fraction: float = 0.15
    min_distance: float = 0.5
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


def _soft_masks(magnitudes: np.ndarray, power: float) -> np.ndarray:
    """Masks (S, F, T) ``m_s^power / sum m^power`` of magnitude estimates (S, F, T); an equal
    share where all are zero. They sum to one."""
    weight = magnitudes ** power
    total = weight.sum(axis=0)
    masks = np.full_like(weight, 1.0 / len(weight))
    np.divide(weight, total, out=masks, where=total > 0)
    return masks


def separate_classic(audio: np.ndarray, sample_rate: int, config: ClassicConfig = ClassicConfig()) -> np.ndarray:
    """Separate one window of audio into bass, drums, other, vocals.

    Args:
        audio: (C, N) float samples.
        sample_rate: Hz.
        config: engine settings.

    Returns:
        (4, C, N) float32 stems in bass, drums, other, vocals order (``conventions.STEMS``); they
        sum to ``audio`` up to the STFT's reconstruction error (~1e-6).
    """
    audio = np.asarray(audio, dtype=np.float32)
    length = audio.shape[-1]
    _, _, spec = signal.stft(audio, fs=sample_rate, window="hann", nperseg=config.n_fft,
                             noverlap=config.n_fft - config.hop, boundary="zeros", padded=True)
    magnitude = np.abs(spec).mean(axis=0)  # F, T
    freqs = np.arange(magnitude.shape[0]) * sample_rate / config.n_fft
    time_len = max(3, int(round(config.harmonic_seconds * sample_rate / config.hop)) | 1)
    freq_len = max(3, int(round(config.percussive_hz * config.n_fft / sample_rate)) | 1)
    harmonic = ndimage.median_filter(magnitude, size=(1, time_len), mode="reflect")
    percussive = ndimage.median_filter(magnitude, size=(freq_len, 1), mode="reflect")
    drums = _soft_masks(np.stack([percussive, harmonic]), config.drum_power)[0]
    low = (1.0 / (1.0 + (freqs / config.bass_cutoff) ** 8))[:, None]
    tonal_upper = (1.0 - drums) * (1.0 - low)  # mask of the tonal part above the bass
    upper = tonal_upper * magnitude
    gap = max(1, int(round(config.min_distance * sample_rate / config.hop)))
    count = max(5, int(round(config.similar_fraction * upper.shape[1])))
    lo, hi = config.vocal_range
    band = slice(int(np.searchsorted(freqs, lo)), int(np.searchsorted(freqs, hi, side="right")))
    lead = np.zeros_like(upper)  # the lead lives in the vocal range only
    lead[band] = upper[band] - _repet_sim(upper, count, gap, band)
    vocal_share = _soft_masks(np.stack([lead, upper - lead]), config.mask_power)[0]
    vocal_share[upper <= 0] = 0.0
    masks = [(1.0 - drums) * low, drums, tonal_upper * (1.0 - vocal_share), tonal_upper * vocal_share]
    stems = []
    for mask in masks:
        _, wave = signal.istft(spec * mask[None], fs=sample_rate, window="hann", nperseg=config.n_fft,
                               noverlap=config.n_fft - config.hop, boundary=True)
        stems.append(wave[..., :length])
    return np.stack(stems).astype(np.float32)
