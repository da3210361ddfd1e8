"""Training losses for separation. Each returns one value per example (B,) so that batches
can be truncated (``truncate``) before averaging.

Shapes: waveforms (B, S, C, N); complex spectrograms (B, S, C, F, T); masks and magnitudes
(B, S, C, F, T) real.
"""

from __future__ import annotations

import torch

__all__ = ["l1_loss", "l2_loss", "si_sdr_loss", "spectrogram_l1_loss", "component_loss",
           "multi_resolution_stft_loss", "truncate"]

_EPS = 1e-8


def _per_example(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).mean(dim=1)


def l1_loss(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error per example."""
    return _per_example((estimate - target).abs())


def l2_loss(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error per example."""
    return _per_example((estimate - target) ** 2)


def si_sdr_loss(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Negative scale-invariant SDR in dB (Le Roux et al. 2019), averaged over sources and
    channels of each example. Zero-mean signals; a silent target gives 0 dB contribution."""
    est = estimate - estimate.mean(dim=-1, keepdim=True)
    ref = target - target.mean(dim=-1, keepdim=True)
    scale = (est * ref).sum(-1, keepdim=True) / ((ref ** 2).sum(-1, keepdim=True) + _EPS)
    projection = scale * ref
    noise = est - projection
    ratio = ((projection ** 2).sum(-1) + _EPS) / ((noise ** 2).sum(-1) + _EPS)
    return -_per_example(10.0 * torch.log10(ratio))


def spectrogram_l1_loss(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 on real and imaginary parts of complex spectrograms (the BSRNN paper's loss, with
    :func:`l1_loss` on waveforms)."""
    return _per_example((estimate.real - target.real).abs()) + _per_example((estimate.imag - target.imag).abs())


def component_loss(mask: torch.Tensor, target: torch.Tensor, mixture: torch.Tensor,
                   alpha: float = 0.2) -> torch.Tensor:
    """Component loss of a magnitude mask: ``alpha`` x relative target distortion
    ||M S - S||^2 / ||S||^2 plus (1 - alpha) x relative residual leakage ||M R||^2 / ||R||^2,
    with R = |mixture| - S (clamped at 0). A perfect binary mask on disjoint sources gives 0.

    Args:
        mask, target: (B, S, C, F, T) mask and target magnitudes. mixture: (B, C, F, T) magnitudes.
    """
    residual = (mixture[:, None] - target).clamp_min(0.0)
    dims = tuple(range(1, mask.dim()))
    distortion = ((mask * target - target) ** 2).sum(dims) / ((target ** 2).sum(dims) + _EPS)
    leakage = ((mask * residual) ** 2).sum(dims) / ((residual ** 2).sum(dims) + _EPS)
    return alpha * distortion + (1.0 - alpha) * leakage


def multi_resolution_stft_loss(estimate: torch.Tensor, target: torch.Tensor,
                               resolutions: tuple[tuple[int, int], ...] = ((512, 128), (1024, 256), (2048, 512))
                               ) -> torch.Tensor:
    """Sum over STFT resolutions (n_fft, hop) of spectral convergence ||S - Ŝ||_F / ||S||_F
    and mean |log S - log Ŝ| of magnitudes (Yamamoto et al. 2020), per example."""
    batch = estimate.shape[0]
    est, ref = estimate.reshape(-1, estimate.shape[-1]), target.reshape(-1, target.shape[-1])
    total = torch.zeros(batch, device=estimate.device)
    for n_fft, hop in resolutions:
        window = torch.hann_window(n_fft, device=estimate.device)
        e = torch.stft(est, n_fft, hop, window=window, return_complex=True).abs().reshape(batch, -1)
        r = torch.stft(ref, n_fft, hop, window=window, return_complex=True).abs().reshape(batch, -1)
        convergence = torch.linalg.norm(r - e, dim=1) / (torch.linalg.norm(r, dim=1) + _EPS)
        log_mag = (torch.log(r + 1e-7) - torch.log(e + 1e-7)).abs().mean(dim=1)
        total = total + convergence + log_mag
    return total


def truncate(losses: torch.Tensor, fraction: float) -> torch.Tensor:
    """Mean of ``losses`` (B,) without the ``fraction`` largest ones (loss truncation, Kang &
    Hashimoto 2020: examples with wrong labels have high loss and are left out)."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError("truncation fraction must be in [0, 1)")
    keep = max(1, losses.numel() - int(fraction * losses.numel()))
    return torch.sort(losses).values[:keep].mean()
