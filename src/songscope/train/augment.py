"""A mastering / degradation chain for training audio: spectral tilt, compression, reverb,
noise and MP3-style band limiting, each applied with its own probability and random strength.

The chain works on a stack of stems (S, N) and treats them as one recording: the same filters
and the same compressor gain (computed on their sum) go to every stem, and the noise is shared
out equally, so the augmented stems still add up to the augmented mixture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = ["MasteringChain", "master"]


@dataclass(frozen=True)
class MasteringChain:
    """Probabilities and ranges of the chain's stages.

    Attributes:
        probability: chance that a crop is augmented at all.
        tilt: chance of an EQ tilt; tilt_db: its slope range (dB per octave around 1 kHz).
        compress: chance of compression; ratio: range of the compression ratio above
            threshold_db (dB below the crop's peak RMS).
        reverb: chance of reverb; reverb_seconds: decay time (RT60) range; wet: wet-level range.
        noise: chance of added white noise; snr_db: its signal-to-noise range.
        band_limit: chance of an MP3-style low-pass; cutoff_hz: its range.
    """

    probability: float = 0.5
    tilt: float = 0.5
    tilt_db: tuple[float, float] = (-3.0, 3.0)
    compress: float = 0.5
    ratio: tuple[float, float] = (2.0, 6.0)
    threshold_db: float = 12.0
    reverb: float = 0.3
    reverb_seconds: tuple[float, float] = (0.2, 1.5)
    wet: tuple[float, float] = (0.05, 0.3)
    noise: float = 0.3
    snr_db: tuple[float, float] = (20.0, 45.0)
    band_limit: float = 0.3
    cutoff_hz: tuple[float, float] = (8000.0, 16000.0)

    def __post_init__(self) -> None:
        for name in ("probability", "tilt", "compress", "reverb", "noise", "band_limit"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"augment.{name} is a probability in [0, 1]")
        for name in ("tilt_db", "ratio", "reverb_seconds", "wet", "snr_db", "cutoff_hz"):
            low, high = getattr(self, name)
            if low > high:
                raise ConfigError(f"augment.{name} must be [low, high]")
        if self.ratio[0] < 1.0 or self.reverb_seconds[0] <= 0.0 or self.cutoff_hz[0] <= 0.0:
            raise ConfigError("augment: ratio >= 1, reverb_seconds > 0 and cutoff_hz > 0")


def _spectral(stems: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Each stem filtered by the real ``gain`` of every rfft bin (zero phase)."""
    n = stems.shape[-1]
    return np.fft.irfft(np.fft.rfft(stems, axis=-1) * gain, n=n, axis=-1).astype(np.float32)


def _tilt(stems: np.ndarray, sample_rate: int, db_per_octave: float) -> np.ndarray:
    freqs = np.fft.rfftfreq(stems.shape[-1], 1.0 / sample_rate)
    octaves = np.log2(np.maximum(freqs, 20.0) / 1000.0)
    return _spectral(stems, 10.0 ** (db_per_octave * octaves / 20.0))


def _band_limit(stems: np.ndarray, sample_rate: int, cutoff: float) -> np.ndarray:
    """A steep low-pass (a 500 Hz raised-cosine skirt above ``cutoff``), as lossy encoders cut."""
    freqs = np.fft.rfftfreq(stems.shape[-1], 1.0 / sample_rate)
    skirt = np.clip((freqs - cutoff) / 500.0, 0.0, 1.0)
    return _spectral(stems, 0.5 * (1.0 + np.cos(np.pi * skirt)))


def _compress(stems: np.ndarray, sample_rate: int, ratio: float, threshold_db: float) -> np.ndarray:
    """A feed-forward compressor on the sum's 10 ms RMS envelope (30 ms release), its gain on every stem."""
    mix = stems.sum(axis=0)
    hop = max(1, sample_rate // 100)
    frames = -(-len(mix) // hop)
    padded = np.pad(mix, (0, frames * hop - len(mix)))
    level = 10.0 * np.log10(np.mean(padded.reshape(frames, hop) ** 2, axis=1) + 1e-10)
    smooth = level.copy()
    for i in range(1, frames):  # instant attack, release of ~3 frames
        smooth[i] = max(level[i], smooth[i - 1] - 3.0)
    threshold = smooth.max() - threshold_db
    reduction = np.where(smooth > threshold, (smooth - threshold) * (1.0 - 1.0 / ratio), 0.0)
    gain = np.repeat(10.0 ** (-reduction / 20.0), hop)[: len(mix)]
    makeup = 10.0 ** (reduction.mean() / 20.0)
    return (stems * (gain * makeup)).astype(np.float32)


def _reverb(stems: np.ndarray, sample_rate: int, rt60: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """Convolution with exponentially decaying noise (decay ``rt60`` s), mixed at ``wet``."""
    from scipy.signal import fftconvolve

    length = int(rt60 * sample_rate)
    t = np.arange(length) / sample_rate
    impulse = rng.standard_normal(length) * 10.0 ** (-3.0 * t / rt60)
    impulse /= np.sqrt(np.sum(impulse ** 2))
    tail = fftconvolve(stems, impulse[None, :], axes=-1)[:, : stems.shape[-1]]
    return ((1.0 - wet) * stems + wet * tail).astype(np.float32)


def master(stems: np.ndarray, sample_rate: int, chain: MasteringChain, rng: np.random.Generator) -> np.ndarray:
    """The stems through a random draw of ``chain`` (see the module docstring).

    Args:
        stems: (S, N) float mono stems at ``sample_rate`` Hz. rng: the draw's generator.

    Returns:
        (S, N) float32 (the input unchanged, as float32, when the draw skips the chain).
    """
    out = np.asarray(stems, dtype=np.float32)
    if rng.random() >= chain.probability:
        return out
    if rng.random() < chain.tilt:
        out = _tilt(out, sample_rate, rng.uniform(*chain.tilt_db))
    if rng.random() < chain.compress:
        out = _compress(out, sample_rate, rng.uniform(*chain.ratio), chain.threshold_db)
    if rng.random() < chain.reverb:
        out = _reverb(out, sample_rate, rng.uniform(*chain.reverb_seconds), rng.uniform(*chain.wet), rng)
    if rng.random() < chain.noise:
        power = float(np.mean(out.sum(axis=0) ** 2))
        if power > 0:
            sigma = np.sqrt(power / 10.0 ** (rng.uniform(*chain.snr_db) / 10.0) / out.shape[0])
            out = out + rng.standard_normal(out.shape).astype(np.float32) * np.float32(sigma)
    if rng.random() < chain.band_limit:
        out = _band_limit(out, sample_rate, rng.uniform(*chain.cutoff_hz))
    peak = float(np.abs(out.sum(axis=0)).max()) if out.size else 0.0
    return out * np.float32(min(1.0, 0.99 / peak)) if peak > 0 else out
