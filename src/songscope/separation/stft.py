"""STFT and inverse STFT as torch modules (Hann window, centred frames, reflect padding).

The window spans ``n_fft`` samples, or ``win_length`` (zero-padded on both sides to ``n_fft``).

``Spectrogram`` turns waveforms (..., N) into complex spectrograms (..., F, T) with
F = n_fft // 2 + 1 and T = N // hop + 1; ``inverse`` maps them back to exactly N samples.
With hop <= n_fft / 2 the pair reconstructs the input to float precision.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Spectrogram"]


class Spectrogram(nn.Module):
    """Complex STFT / iSTFT pair.

    Args:
        n_fft: FFT size (samples). hop: frame step (samples).
        win_length: Hann window length (samples), at most ``n_fft``; None: ``n_fft``.
    """

    def __init__(self, n_fft: int = 2048, hop: int = 512, win_length: int | None = None):
        super().__init__()
        if hop > n_fft // 2:
            raise ValueError("hop must be at most n_fft / 2 for perfect reconstruction")
        self.n_fft, self.hop, self.win_length = n_fft, hop, win_length or n_fft
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)

    def frames(self, num_samples: int) -> int:
        """Frames T of a signal of ``num_samples`` samples."""
        return num_samples // self.hop + 1

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """(..., N) float -> (..., F, T) complex."""
        lead = wave.shape[:-1]
        spec = torch.stft(wave.reshape(-1, wave.shape[-1]), self.n_fft, self.hop, self.win_length, self.window,
                          center=True, pad_mode="reflect", return_complex=True)
        return spec.reshape(*lead, *spec.shape[-2:])

    def inverse(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """(..., F, T) complex -> (..., length) float."""
        lead = spec.shape[:-2]
        wave = torch.istft(spec.reshape(-1, *spec.shape[-2:]), self.n_fft, self.hop, self.win_length, self.window,
                           center=True, length=length)
        return wave.reshape(*lead, length)
