"""Harmonic constant-Q front end of STONE's ChromaNet, in PyTorch (CPU, CUDA or MPS).

The multi-rate CQT of :mod:`songscope.audio.cqt_torch` (nnAudio's ``CQT2010v2`` as STONE
configures it), its magnitude mapped to STONE's per-segment log scale:
``(max(10 log10 M, max - 80) / 80) + 1``. The official checkpoints' ``hcqt.*`` buffers load
into :class:`HarmonicCQT` unchanged.
"""

from __future__ import annotations

import torch

from ..audio.cqt_torch import MultiRateCQT

__all__ = ["HarmonicCQT"]


class HarmonicCQT(MultiRateCQT):
    """Waveform segments (B, 1, S) -> log-scaled CQT (B, 1, n_bins, frames).

    ``frames = S // hop + 1``; frame t is centred on sample ``hop * t``. Settings and buffers
    are those of :class:`~songscope.audio.cqt_torch.MultiRateCQT`.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """STONE's log scale of the magnitude, (B, 1, n_bins, frames): ``dB / 80 + 1`` with
        ``dB = 10 log10 M`` floored 80 dB below the segment's loudest bin."""
        mag = self.magnitude(x)
        db = 10.0 * torch.log10(torch.clamp(mag, min=1e-10))
        floor = db.amax(dim=(1, 2), keepdim=True) - 80.0
        db = torch.maximum(db, floor)
        return (db / 80.0 + 1.0).unsqueeze(1)
