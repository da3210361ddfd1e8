"""STONE's training objectives: the DFT projection of a 12-bin key-signature profile, the
cross-power-spectral-density (CPSD) loss between transposed crops, and the supervised
24-key cross-entropy.

A profile ``y`` (B, 12), non-negative and summing to 1, is projected on one Fourier
coefficient: ``D_w(y) = sum_k y_k exp(-2 pi i w k / 12)``; ``w = 1`` places the 12 classes
on the circle of semitones, ``w = 7`` on the circle of fifths. Transposing the audio up by
``s`` semitones rolls an ideal profile by ``s`` and multiplies ``D_w`` by
``exp(-2 pi i w s / 12)``. The CPSD loss of a pair is
``1 - Re(D_w(y_a) conj(D_w(y_b)) exp(-2 pi i w (s_b - s_a) / 12))``: 0 exactly when both
profiles are the same one-hot vector up to the transposition, 1 for flat profiles, 2 for
one-hot profiles half a circle away from what the transposition says.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["dft_projection", "cpsd_loss", "key_signature_profile", "supervised_key_loss"]


def dft_projection(profile: torch.Tensor, w: int = 7) -> torch.Tensor:
    """``D_w`` of profiles (B, 12) -> complex (B,)."""
    k = torch.arange(12, device=profile.device, dtype=profile.dtype)
    angle = -2 * math.pi * w * k / 12
    return torch.complex((profile * torch.cos(angle)).sum(dim=1), (profile * torch.sin(angle)).sum(dim=1))


def cpsd_loss(profile_a: torch.Tensor, profile_b: torch.Tensor, shift: torch.Tensor, w: int = 7) -> torch.Tensor:
    """Mean CPSD loss of pairs of profiles (B, 12) whose audio differs by ``shift`` (B,)
    semitones (b is a transposed up by ``shift``)."""
    da, db = dft_projection(profile_a, w), dft_projection(profile_b, w)
    angle = -2 * math.pi * w * shift.to(profile_a.dtype) / 12
    rotation = torch.complex(torch.cos(angle), torch.sin(angle))
    return (1.0 - torch.real(da * torch.conj(db) * rotation)).mean()


def key_signature_profile(probabilities: torch.Tensor) -> torch.Tensor:
    """Key-signature profile (B, 12) of model outputs: 12-class outputs unchanged; 24-class
    outputs (minor block, major block whose class i is the relative major of minor i) summed."""
    if probabilities.shape[1] == 12:
        return probabilities
    return probabilities[:, :12] + probabilities[:, 12:]


def supervised_key_loss(logits: torch.Tensor, target: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Cross-entropy of 24-key logits (B, 24) against target indices (B,)."""
    return F.cross_entropy(logits / temperature, target)
