"""allin1's input features, computed in torch: per stem, the log-compressed magnitude spectrogram
through a logarithmic triangular filterbank, as madmom's processing chain that allin1 runs
(``FramedSignalProcessor(frame_size=2048, fps=100)``, ``ShortTimeFourierTransformProcessor()``,
``FilteredSpectrogramProcessor(num_bands=12, fmin=30, fmax=17000, norm_filters=True)``,
``LogarithmicSpectrogramProcessor(mul=1, add=1)``) defines it:

- frames: ``ceil(N / hop)`` frames of ``window_size`` samples, frame ``i`` centred on sample
  ``i * hop`` (samples before 0 and after the end are zeros);
- STFT: a symmetric Hann window (``np.hanning``), no zero padding, the first ``window_size / 2``
  bins (no Nyquist bin), magnitudes;
- filterbank: centre frequencies ``440 * 2 ** (j / 12)`` Hz between ``fmin`` and ``fmax``, each
  mapped to its nearest FFT bin, duplicate bins dropped; one overlapping triangle per three
  consecutive bins (rising from the first, peak at the second, zero from the third on; a triangle
  narrower than two bins collapses to its first bin), each normalised to unit area (float32);
- compression: ``log10(1 + x)``.

At 44.1 kHz this gives the 81 bands allin1's network reads.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ...errors import ConfigError
from .config import AllInOneConfig

__all__ = ["filterbank", "log_spectrogram", "padded_frames"]

_REFERENCE_HZ = 440.0
_BLOCK_FRAMES = 2048  # frames transformed at once: bounds the memory of the complex spectrum


def _log_frequencies(bands_per_octave: int, fmin: float, fmax: float) -> np.ndarray:
    left = np.floor(np.log2(fmin / _REFERENCE_HZ) * bands_per_octave)
    right = np.ceil(np.log2(fmax / _REFERENCE_HZ) * bands_per_octave)
    freqs = _REFERENCE_HZ * 2.0 ** (np.arange(left, right) / float(bands_per_octave))
    freqs = freqs[np.searchsorted(freqs, fmin):]
    return freqs[:np.searchsorted(freqs, fmax, "right")]


def _nearest_bins(freqs: np.ndarray, bin_freqs: np.ndarray) -> np.ndarray:
    """Index of the FFT bin nearest to each frequency (ties to the upper bin), duplicates dropped."""
    upper = np.clip(bin_freqs.searchsorted(freqs), 1, len(bin_freqs) - 1)
    lower_is_nearer = freqs - bin_freqs[upper - 1] < bin_freqs[upper] - freqs
    return np.unique(upper - lower_is_nearer)


@lru_cache(maxsize=8)
def filterbank(sample_rate: int = 44100, window_size: int = 2048, bands_per_octave: int = 12,
               fmin: float = 30.0, fmax: float = 17000.0) -> np.ndarray:
    """The logarithmic triangular filterbank (see the module docstring).

    Returns:
        float32 (window_size // 2, bands): column ``b`` weights the FFT bins of band ``b``.
    """
    bin_freqs = np.fft.fftfreq(window_size, 1.0 / sample_rate)[: window_size // 2]
    bins = _nearest_bins(_log_frequencies(bands_per_octave, fmin, fmax), bin_freqs)
    if len(bins) < 3:
        raise ConfigError(f"a filterbank from {fmin} to {fmax} Hz at {sample_rate} Hz has fewer than 3 bins")
    bank = np.zeros((len(bin_freqs), len(bins) - 2), dtype=np.float32)
    for band, (start, centre, stop) in enumerate(zip(bins[:-2], bins[1:-1], bins[2:])):
        if stop - start < 2:
            centre, stop = start, start + 1
        triangle = np.concatenate([np.linspace(0, 1, centre - start, endpoint=False),
                                   np.linspace(1, 0, stop - centre, endpoint=False)]).astype(np.float32)
        bank[start:stop, band] = triangle / np.sum(triangle)
    bank.setflags(write=False)
    return bank


def padded_frames(samples: torch.Tensor, count: int, cfg: AllInOneConfig = AllInOneConfig()) -> torch.Tensor:
    """Features of ``count`` frames read from already padded samples: frame ``i`` is
    ``samples[..., i * hop : i * hop + window_size]`` (the caller pads; see :func:`log_spectrogram`).

    Args:
        samples: (..., n) float32 with ``n >= (count - 1) * hop + window_size``.

    Returns:
        (..., count, bands) float32.
    """
    size, hop = cfg.window_size, cfg.hop_size
    bank = torch.tensor(filterbank(cfg.sample_rate, size, cfg.num_bands, cfg.fmin, cfg.fmax), device=samples.device)
    window = torch.hann_window(size, periodic=False, dtype=torch.float64, device=samples.device).to(torch.float32)
    blocks = []
    for first in range(0, count, _BLOCK_FRAMES):
        number = min(_BLOCK_FRAMES, count - first)
        chunk = samples[..., first * hop:(first + number - 1) * hop + size].unfold(-1, size, hop)
        magnitude = torch.fft.rfft(chunk * window, n=size)[..., : size // 2].abs()
        blocks.append(torch.log10(1.0 + magnitude @ bank))
    if not blocks:
        return samples.new_zeros(samples.shape[:-1] + (0, bank.shape[1]))
    return torch.cat(blocks, dim=-2)


def log_spectrogram(samples: torch.Tensor, cfg: AllInOneConfig = AllInOneConfig()) -> torch.Tensor:
    """allin1's features of mono signals, on the device of ``samples``.

    Args:
        samples: (..., N) float mono samples at ``cfg.sample_rate`` Hz, full scale 1.
        cfg: frame size, hop and filterbank settings (allin1's defaults: 2048, 441, 12 bands
            per octave from 30 Hz to 17 kHz).

    Returns:
        (..., T, bands) float32 with ``T = ceil(N / hop)`` frames at ``cfg.fps`` frames per second.
    """
    size, hop = cfg.window_size, cfg.hop_size
    samples = samples.to(torch.float32)
    frames = -(-samples.shape[-1] // hop)
    padded = torch.nn.functional.pad(samples, (size // 2, max(0, (frames - 1) * hop + size - size // 2 - samples.shape[-1])))
    return padded_frames(padded, frames, cfg)
