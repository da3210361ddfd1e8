"""Multi-rate constant-Q transform in PyTorch (CPU, CUDA or MPS).

This is nnAudio's ``CQT2010v2`` as STONE configures it (its ``HarmonicVQT`` with one
harmonic and gamma 0): one octave of complex kernels at the top of the spectrum (the atoms
of :func:`songscope.audio.cqt.cqt_atoms`, shared with the NumPy CQT), applied to the signal
decimated 0, 1, ... times by a 256-tap low-pass (stride-2), so octave ``i`` from the top is
analysed at hop ``hop / 2 ** i``. The bins are scaled by ``sqrt(window length)`` (librosa's
convention) and turned into magnitude.

The buffers are generated here (:func:`cqt_kernels`, :func:`lowpass_filter`); STONE's
official checkpoints carry the same buffers, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.signal
import torch
import torch.nn.functional as F
from torch import nn

from .cqt import ConstantQ, cqt_atoms

__all__ = ["HCQTConfig", "MultiRateCQT", "cqt_kernels", "lowpass_filter"]


@dataclass(frozen=True)
class HCQTConfig(ConstantQ):
    """Multi-rate CQT settings; the defaults are STONE's front end: 99 semitone bins from
    A0 at 22.05 kHz, hop 512."""

    sample_rate: int = 22050
    hop: int = 512
    fmin: float = 27.5
    n_bins: int = 99
    bins_per_octave: int = 12
    filter_scale: float = 1.0

    @property
    def n_octaves(self) -> int:
        return int(math.ceil(self.n_bins / self.bins_per_octave))


def lowpass_filter(taps: int = 256, band_center: float = 0.5, transition: float = 0.001) -> np.ndarray:
    """The decimation low-pass (taps,) float32: ``firwin2`` passing up to ``band_center /
    (1 + transition)`` and stopping from ``band_center * (1 + transition)`` (Nyquist = 1)."""
    edges = [0.0, band_center / (1 + transition), band_center * (1 + transition), 1.0]
    return scipy.signal.firwin2(taps, edges, [1.0, 1.0, 0.0, 0.0]).astype(np.float32)


def cqt_kernels(config: HCQTConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-octave complex kernels and every bin's window length.

    Returns:
        ``(real, imag, lengths)``: real and imag (bins_per_octave, 1, L) float32, the
        :func:`~songscope.audio.cqt.cqt_atoms` of the top octave's centre frequencies (L the
        next power of two of the longest top-octave window); lengths (n_bins,) float32 =
        ``ceil(Q * sr / f_k)`` samples, of every bin from ``fmin``.
    """
    bpo, sr, q = config.bins_per_octave, config.sample_rate, config.q
    # bins span the lowest octave start (an octave boundary below fmin) to the top
    total = config.n_octaves * bpo
    fmin_all = config.fmin * 2 ** (-(total - config.n_bins) / bpo)
    top = fmin_all * 2 ** ((total - bpo) / bpo)
    atoms = cqt_atoms(top * 2 ** (np.arange(bpo) / bpo), sr, q)
    lengths = config.lengths.astype(np.float32)
    return atoms.real[:, None, :].astype(np.float32), atoms.imag[:, None, :].astype(np.float32), lengths


class MultiRateCQT(nn.Module):
    """Waveform segments (B, 1, S) -> CQT magnitude (B, n_bins, frames).

    ``frames = S // hop + 1``; frame t is centred on sample ``hop * t``; bins from ``fmin``
    upward. Buffer names follow STONE's checkpoints (``lowpass_filter``, ``lenghts`` [sic],
    ``cqt_kernels_real_i``, ``cqt_kernels_imag_i`` for i in 0 .. n_octaves - 1).
    """

    def __init__(self, config: HCQTConfig = HCQTConfig()):
        super().__init__()
        self.config = config
        real, imag, lengths = cqt_kernels(config)
        self.register_buffer("lowpass_filter", torch.from_numpy(lowpass_filter())[None, None, :])
        self.register_buffer("lenghts", torch.from_numpy(lengths))
        for i in range(config.n_octaves):
            self.register_buffer(f"cqt_kernels_real_{i}", torch.from_numpy(real))
            self.register_buffer(f"cqt_kernels_imag_{i}", torch.from_numpy(imag))

    def _octave(self, x: torch.Tensor, i: int, hop: int) -> tuple[torch.Tensor, torch.Tensor]:
        pad = getattr(self, f"cqt_kernels_real_{i}").shape[-1] // 2
        padded = F.pad(x, (pad, pad), mode="reflect")
        real = F.conv1d(padded, getattr(self, f"cqt_kernels_real_{i}"), stride=hop)
        imag = -F.conv1d(padded, getattr(self, f"cqt_kernels_imag_{i}"), stride=hop)
        return real, imag

    def magnitude(self, x: torch.Tensor) -> torch.Tensor:
        """Linear CQT magnitude (B, n_bins, frames) of segments (B, 1, S), bins from ``fmin``
        upward; a unit sine at a bin centre gives ``0.5 * sqrt(window length)``."""
        cfg = self.config
        hop = cfg.hop
        reals, imags = [], []
        signal = x
        for i in range(cfg.n_octaves):
            if i > 0:
                taps = self.lowpass_filter.shape[-1]
                signal = F.conv1d(signal, self.lowpass_filter, stride=2, padding=(taps - 1) // 2)
                hop //= 2
            real, imag = self._octave(signal, i, hop)
            reals.insert(0, real)
            imags.insert(0, imag)
        real = torch.cat(reals, dim=1)[:, -cfg.n_bins:]
        imag = torch.cat(imags, dim=1)[:, -cfg.n_bins:]
        scale = torch.sqrt(self.lenghts).view(-1, 1)
        return torch.sqrt((real * scale) ** 2 + (imag * scale) ** 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The linear magnitude (B, n_bins, frames) of segments (B, 1, S), see :meth:`magnitude`."""
        return self.magnitude(x)
