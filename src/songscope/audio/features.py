"""Frame-level spectral features at 100 frames per second, computed in bounded memory.

One STFT pass (Hann window, 2048 samples at 22.05 kHz, frame ``i`` centred on sample
``floor(i * sr / fps + 0.5)``) feeds every feature the classic engines use:

- ``log_bands``: log-compressed magnitudes in semitone-spaced triangular bands
  (27.5 Hz .. Nyquist, bands without their own FFT bin merged), for onset/flux detection;
- ``chroma``: 12 pitch-class energies (C = 0) folded from the bands between 80 Hz and 5 kHz;
- ``mfcc``: 13 mel-frequency cepstral coefficients (40 mel bands), for timbre;
- ``rms_db``: frame energy in dB full scale.

The signal is processed in chunks so a long file never holds its whole spectrogram.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.fft import dct, rfft

__all__ = ["ANALYSIS_SR", "FPS", "Features", "band_chroma", "compute_features", "num_frames",
           "pitch_class_fold", "semitone_filterbank", "mel_filterbank"]

ANALYSIS_SR = 22050
FPS = 100.0
N_FFT = 2048
_CHUNK_FRAMES = 2000


def num_frames(num_samples: int, sample_rate: int, fps: float = FPS) -> int:
    """Frames covering ``num_samples``: ``ceil(num_samples * fps / sample_rate)``."""
    return int(np.ceil(num_samples * fps / sample_rate))


def _triangles(edges_hz: np.ndarray, bin_hz: np.ndarray) -> np.ndarray:
    """Triangular filters (bins, len(edges) - 2) with unit peak, from consecutive edge triples."""
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rise = (bin_hz[None, :] - lower) / (centre - lower)
    fall = (upper - bin_hz[None, :]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rise, fall)).T


def semitone_filterbank(sample_rate: int = ANALYSIS_SR, n_fft: int = N_FFT,
                        fmin: float = 27.5) -> tuple[np.ndarray, np.ndarray]:
    """Semitone-spaced triangular filterbank.

    Returns:
        ``(weights, midi)``: weights (n_fft // 2 + 1, bands) float32; midi (bands,) the
        (fractional) MIDI pitch of each band centre. Bands too narrow to hold an FFT bin
        are merged with their neighbours, so every band has at least one bin.
    """
    bin_hz = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    nyquist = sample_rate / 2.0
    midi_lo = 69 + 12 * np.log2(fmin / 440.0)
    midi_hi = 69 + 12 * np.log2(nyquist / 440.0)
    centres = 440.0 * 2 ** ((np.arange(midi_lo, midi_hi) - 69) / 12.0)
    # snap centres to FFT bins and drop duplicates so every band has a distinct centre bin
    centre_bins = np.unique(np.round(centres / bin_hz[1]).astype(int))
    centre_bins = centre_bins[(centre_bins > 0) & (centre_bins < len(bin_hz) - 1)]
    edges = np.r_[centre_bins[0] - 1, centre_bins, centre_bins[-1] + 1] * bin_hz[1]
    weights = _triangles(edges, bin_hz)
    midi = 69 + 12 * np.log2(centre_bins * bin_hz[1] / 440.0)
    return weights.astype(np.float32), midi


def mel_filterbank(sample_rate: int = ANALYSIS_SR, n_fft: int = N_FFT, bands: int = 40,
                   fmin: float = 30.0, fmax: float | None = None) -> np.ndarray:
    """Triangular mel filterbank (HTK mel scale), (n_fft // 2 + 1, bands) float32."""
    fmax = fmax or sample_rate / 2.0
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    edges = 700.0 * (10 ** (np.linspace(mel(fmin), mel(fmax), bands + 2) / 2595.0) - 1.0)
    bin_hz = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    return _triangles(edges, bin_hz).astype(np.float32)


@dataclass
class Features:
    """Frame features at ``fps`` frames per second; T frames.

    Attributes:
        log_bands: (T, B) float32 ``log10(1 + magnitude)`` in semitone bands.
        band_midi: (B,) MIDI pitch of each band centre.
        chroma: (T, 12) float32 pitch-class energy (squared band magnitude), class 0 = C.
        mfcc: (T, 13) float32 cepstral coefficients.
        rms_db: (T,) float32 frame energy, dB re full scale.
        fps: frames per second.
    """

    log_bands: np.ndarray
    band_midi: np.ndarray
    chroma: np.ndarray
    mfcc: np.ndarray
    rms_db: np.ndarray
    fps: float

    @property
    def num_frames(self) -> int:
        return len(self.rms_db)


def pitch_class_fold(midi: np.ndarray, lo: float = 80.0, hi: float = 5000.0) -> np.ndarray:
    """(B, 12) float32 0/1 folding of the bands (``midi``: (B,) band centres as MIDI numbers) with
    centre in [lo, hi] Hz onto pitch classes (C = 0): ``values @ fold`` sums each class's bands."""
    hz = 440.0 * 2 ** ((midi - 69) / 12.0)
    fold = np.zeros((len(midi), 12), dtype=np.float32)
    keep = (hz >= lo) & (hz <= hi)
    fold[np.nonzero(keep)[0], np.round(midi[keep]).astype(int) % 12] = 1.0
    return fold


def band_chroma(features: Features, lo: float, hi: float) -> np.ndarray:
    """(T, 12) pitch-class energy of the semitone bands with centre in [lo, hi] Hz (class 0 = C),
    from ``features.log_bands``: e.g. ``lo=30, hi=165`` follows the bass line."""
    magnitude = np.power(10.0, features.log_bands, dtype=np.float32) - 1.0
    return (magnitude ** 2) @ pitch_class_fold(features.band_midi, lo, hi)


def compute_features(mono: np.ndarray, sample_rate: int = ANALYSIS_SR, fps: float = FPS) -> Features:
    """Compute :class:`Features` of a mono signal.

    Args:
        mono: (N,) float32 samples.
        sample_rate: Hz.
        fps: frames per second (100 by convention).
    """
    total = num_frames(len(mono), sample_rate, fps)
    bands, midi = semitone_filterbank(sample_rate, N_FFT)
    mel = mel_filterbank(sample_rate, N_FFT)
    fold = pitch_class_fold(midi)
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)
    half = N_FFT // 2
    padded = np.pad(np.asarray(mono, dtype=np.float32), (half, half + N_FFT))
    windows = sliding_window_view(padded, N_FFT)  # row c = frame centred on sample c
    log_bands = np.empty((total, bands.shape[1]), dtype=np.float32)
    chroma = np.empty((total, 12), dtype=np.float32)
    mfcc = np.empty((total, 13), dtype=np.float32)
    rms_db = np.empty(total, dtype=np.float32)
    for start in range(0, total, _CHUNK_FRAMES):
        idx = np.arange(start, min(start + _CHUNK_FRAMES, total))
        frames = windows[np.floor(idx * (sample_rate / fps) + 0.5).astype(np.int64)]
        mag = np.abs(rfft(frames * window, axis=1)).astype(np.float32)
        band_mag = mag @ bands
        log_bands[idx] = np.log10(1.0 + band_mag)
        chroma[idx] = (band_mag ** 2) @ fold
        mel_log = np.log(1e-8 + (mag ** 2) @ mel)
        mfcc[idx] = dct(mel_log, type=2, norm="ortho", axis=1)[:, :13]
        power = np.mean(frames[:, half - 512: half + 512] ** 2, axis=1)
        rms_db[idx] = 10.0 * np.log10(np.maximum(power, 1e-12))
    return Features(log_bands, midi, chroma, mfcc, rms_db, fps)
