"""Constant-Q transform and tuned chroma, in NumPy (spectral-kernel method).

Bin ``k`` has centre frequency ``f_k = fmin * 2 ** (k / B)`` and the atom of
:func:`cqt_atoms` (nnAudio's design, shared with the PyTorch CQT of
:mod:`songscope.audio.cqt_torch`): a periodic Hann window of length
``N_k = ceil(Q * sr / f_k)``, ``Q = filter_scale / (2 ** (1 / B) - 1)``, times
``exp(2 pi i f_k tau / sr)`` for ``tau = floor(-N_k / 2) .. floor(N_k / 2) - 1``, with unit
L1 norm. Following Brown & Puckette (1992), the atoms' spectra, sparsified, turn each
frame's FFT into the CQT of that frame: ``X_cq[k] = sum_tau x[c + tau] conj(a_k[tau])`` for
the frame centred on sample ``c``, up to the discarded small kernel coefficients. A
sinusoid of amplitude 1 at a bin centre has magnitude 0.5 there (half its amplitude, the
window's weights summing to one).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.signal
import scipy.sparse
from numpy.lib.stride_tricks import sliding_window_view
from scipy.fft import fft, rfft

__all__ = ["ConstantQ", "CQTSpec", "cqt", "cqt_atoms", "estimate_tuning",
           "tuned_chroma"]


class ConstantQ:
    """Mixin for CQT settings with ``sample_rate``, ``fmin``, ``n_bins``, ``bins_per_octave``
    and ``filter_scale`` fields."""

    sample_rate: int
    fmin: float
    n_bins: int
    bins_per_octave: int
    filter_scale: float

    @property
    def q(self) -> float:
        """Quality factor: centre frequency over bandwidth, ``filter_scale / (2^(1/B) - 1)``."""
        return self.filter_scale / (2 ** (1.0 / self.bins_per_octave) - 1)

    @property
    def frequencies(self) -> np.ndarray:
        """Centre frequency (Hz) of every bin, (n_bins,): ``fmin * 2^(k / B)``."""
        return self.fmin * 2.0 ** (np.arange(self.n_bins) / self.bins_per_octave)

    @property
    def lengths(self) -> np.ndarray:
        """Window length (samples) of every bin, (n_bins,): ``ceil(Q * sample_rate / f_k)``."""
        return np.ceil(self.q * self.sample_rate / self.frequencies)


@dataclass(frozen=True)
class CQTSpec(ConstantQ):
    """CQT settings. Defaults: 36 bins per octave from C2 - 1/3 semitone over 5 octaves,
    at 5512 Hz with a 1024-sample hop (5.4 frames per second), enough for key and tuning."""

    sample_rate: int = 5512
    fmin: float = 65.40639132514966 * 2 ** (-1 / 36)
    n_bins: int = 180
    bins_per_octave: int = 36
    hop: int = 1024
    filter_scale: float = 1.0
    sparsity: float = 0.005


def cqt_atoms(freqs: np.ndarray, sample_rate: float, q: float) -> np.ndarray:
    """Time-domain CQT atoms, one per centre frequency, on a common centred grid.

    Atom ``k`` has ``N_k = ceil(q * sample_rate / f_k)`` samples: the periodic Hann window
    ``w[j] = 0.5 - 0.5 cos(2 pi j / N_k)``, ``j = 0 .. N_k - 1``, times
    ``exp(2 pi i f_k tau / sample_rate)`` with ``tau = j + floor(-N_k / 2)`` (the time of
    sample ``j`` relative to the frame centre), divided by its L1 norm (so the window's
    weights sum to one). This is the kernel of nnAudio's ``CQT2010v2`` (the design of
    librosa's CQT filters: periodic Hann, phase origin at the centre, unit L1 norm); at
    STONE's settings its float32 cast equals the checkpoints' buffers bit for bit. The CQT
    of the frame centred on sample ``c`` is ``sum_tau x[c + tau] conj(a_k[tau])``.

    Args:
        freqs: (K,) centre frequencies in Hz.
        sample_rate: sampling rate in Hz.
        q: quality factor (centre frequency over bandwidth), see :class:`ConstantQ`.

    Returns:
        (K, L) complex128 (dimensionless weights), with L the next power of two of the
        longest ``N_k``; column ``L // 2 + tau`` holds time ``tau`` (samples), zero outside
        each atom.
    """
    freqs = np.asarray(freqs, dtype=float)
    width = int(2 ** np.ceil(np.log2(np.ceil(q * sample_rate / freqs.min()))))
    atoms = np.zeros((len(freqs), width), dtype=np.complex128)
    for k, f in enumerate(freqs):
        n = int(np.ceil(q * sample_rate / f))
        phase = np.arange(-n // 2, n // 2) * 2 * np.pi * f / sample_rate
        atom = scipy.signal.get_window("hann", n, fftbins=True) * np.exp(1j * phase)
        start = width // 2 + (-n // 2)
        atoms[k, start:start + n] = atom / np.linalg.norm(atom, 1)
    return atoms


@lru_cache(maxsize=8)
def _kernel(spec: CQTSpec) -> tuple[scipy.sparse.csr_matrix, int]:
    """Sparse spectral kernel (n_fft // 2 + 1, n_bins) and the FFT size."""
    freqs = spec.frequencies
    if freqs[-1] >= spec.sample_rate / 2:
        raise ValueError("highest CQT bin must lie below the Nyquist frequency")
    atoms = cqt_atoms(freqs, spec.sample_rate, spec.q)
    n_fft = atoms.shape[1]
    spectral = np.conj(fft(atoms, axis=1)) / n_fft
    # the atoms are analytic: only positive frequencies matter for real input
    spectral = spectral[:, : n_fft // 2 + 1]
    spectral[np.abs(spectral) < spec.sparsity * np.abs(spectral).max(axis=1, keepdims=True)] = 0
    return scipy.sparse.csr_matrix(spectral.T), n_fft


def cqt(signal: np.ndarray, spec: CQTSpec = CQTSpec()) -> np.ndarray:
    """Complex CQT of a mono signal at ``spec.sample_rate``.

    Args:
        signal: (N,) samples.
        spec: transform settings.

    Returns:
        (frames, n_bins) complex64; frame ``i`` is centred on sample ``i * hop``.
    """
    kernel, n_fft = _kernel(spec)
    x = np.asarray(signal, dtype=np.float64)
    padded = np.pad(x, (n_fft // 2, n_fft // 2))
    frames = sliding_window_view(padded, n_fft)[:: spec.hop][: len(x) // spec.hop + 1]
    out = np.empty((len(frames), spec.n_bins), dtype=np.complex64)
    for start in range(0, len(frames), 256):
        block = rfft(frames[start:start + 256], axis=1)
        # real input: X[-f] = conj(X[f]); the kernel's positive half carries the atom
        out[start:start + 256] = (kernel.T @ block.T).T
    return out


def estimate_tuning(magnitude: np.ndarray, spec: CQTSpec = CQTSpec()) -> float:
    """Deviation of the tuning from A440 in semitones, in [-0.5, 0.5).

    Args:
        magnitude: (frames, n_bins) CQT magnitude with ``bins_per_octave`` a multiple of 12
            whose every ``(bins_per_octave / 12)``-th bin, starting at the middle one, lies on
            an equal-tempered A440 pitch (the default :class:`CQTSpec`).
    """
    per_semitone = spec.bins_per_octave // 12
    energy = np.asarray(magnitude, dtype=float) ** 2
    centre = per_semitone // 2
    phase = 2j * np.pi * (np.arange(spec.n_bins) - centre) / per_semitone
    resultant = (energy.sum(axis=0) * np.exp(phase)).sum()
    if abs(resultant) == 0:
        return 0.0
    deviation = np.angle(resultant) / (2 * np.pi)
    return float((deviation + 0.5) % 1.0 - 0.5)


def tuned_chroma(magnitude: np.ndarray, tuning: float, spec: CQTSpec = CQTSpec(),
                 compression: float = 50.0) -> np.ndarray:
    """Pitch-class profile per frame, (frames, 12), class 0 = C (with the default fmin).

    The log-compressed magnitude ``log(1 + compression * |X|)`` is read at the tuned
    semitone centres (linear interpolation between bins) and summed over octaves.

    Args:
        magnitude: (frames, n_bins) CQT magnitude (a unit sine at a bin centre gives 0.5).
        tuning: deviation from A440 in semitones, see :func:`estimate_tuning`.
        spec: the settings of the CQT that gave ``magnitude``.
        compression: gain before the log; 50 maps a unit sine at its bin to ``log(26)``.
    """
    per_semitone = spec.bins_per_octave // 12
    logmag = np.log1p(compression * np.asarray(magnitude, dtype=float))
    semitones = spec.n_bins // per_semitone
    pos = np.arange(semitones) * per_semitone + per_semitone // 2 + tuning * per_semitone
    pos = np.clip(pos, 0, spec.n_bins - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, spec.n_bins - 1)
    frac = pos - lo
    pitch = logmag[:, lo] * (1 - frac) + logmag[:, hi] * frac  # (frames, semitones)
    chroma = np.zeros((len(logmag), 12))
    for s in range(semitones):
        chroma[:, s % 12] += pitch[:, s]
    return chroma
