"""songscope's light U-Net mask estimators on magnitude spectrograms (one strided convolution
per level; Auralflow's own networks, with blocks of three convolutions and max-pooling, are in
``auralflow.py``).

- ``simple``: convolutional encoder/decoder with skip connections;
- ``lstm``: the same with a bidirectional LSTM bottleneck along time;
- ``vae``: a variational bottleneck (mean and log-variance, reparameterised while training,
  the mean at inference; ``kl`` holds the KL divergence of the last forward pass).

Input: complex mixture spectrogram (B, C, F, T); the network sees log(1 + |X|) of the first
``num_bins`` bins with a learned per-bin affine normalisation. Output: one mask per target
and channel (sigmoid by default), applied to the mixture magnitude with the mixture phase;
bins above ``num_bins`` get the mask of the highest modelled bin.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..conventions import STEMS

__all__ = ["UNetConfig", "SpectrogramUNet", "BOTTLENECKS", "MASK_ACTIVATIONS"]

BOTTLENECKS = ("simple", "lstm", "vae")
MASK_ACTIVATIONS = {"sigmoid": torch.sigmoid, "relu": F.relu, "softplus": F.softplus,
                    "hardtanh": lambda x: F.hardtanh(x, 0.0, 1.0)}


@dataclass
class UNetConfig:
    """Architecture of a spectrogram U-Net.

    Attributes:
        targets: stems it estimates (one mask each). bottleneck: simple, lstm or vae.
        sample_rate, n_fft, hop: STFT settings. channels: audio channels (2 = stereo).
        num_bins: lowest STFT bins the network models (a multiple of 2 ** depth).
        hidden: channels of the first encoder block (doubles per block). depth: encoder blocks.
        kernel: convolution kernel size. leak: LeakyReLU slope of the encoder.
        dropout: dropout of the first three decoder blocks. lstm_layers, lstm_hidden: LSTM bottleneck depth and width.
        latent: channels of the VAE latent. mask_activation: sigmoid, relu, softplus, hardtanh.
    """

    targets: tuple[str, ...] = STEMS
    bottleneck: str = "simple"
    sample_rate: int = 44100
    n_fft: int = 2048
    hop: int = 512
    channels: int = 2
    num_bins: int = 512
    hidden: int = 16
    depth: int = 5
    kernel: int = 5
    leak: float = 0.2
    dropout: float = 0.4
    lstm_layers: int = 2
    lstm_hidden: int = 256
    latent: int = 32
    mask_activation: str = "sigmoid"

    def __post_init__(self) -> None:
        self.targets = tuple(self.targets)
        if not self.targets or any(t not in STEMS for t in self.targets):
            raise ValueError(f"targets must be among {', '.join(STEMS)}")
        if self.bottleneck not in BOTTLENECKS:
            raise ValueError(f"bottleneck must be one of {', '.join(BOTTLENECKS)}")
        if self.mask_activation not in MASK_ACTIVATIONS:
            raise ValueError(f"mask_activation must be one of {', '.join(MASK_ACTIVATIONS)}")
        if self.num_bins % (2 ** self.depth) or self.num_bins > self.n_fft // 2 + 1:
            raise ValueError("num_bins must be a multiple of 2 ** depth and at most n_fft / 2 + 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Down(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, leak: float):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=2, padding=kernel // 2)
        self.norm = nn.BatchNorm2d(cout)
        self.leak = leak

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.norm(self.conv(x)), self.leak)


class _Up(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, dropout: float):
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, kernel, stride=2, padding=kernel // 2, output_padding=1)
        self.norm = nn.BatchNorm2d(cout)
        self.dropout = nn.Dropout2d(dropout) if dropout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(F.relu(self.norm(self.conv(x))))


class _LSTMBottleneck(nn.Module):
    """Flattened (channels x bins) bottleneck features projected to ``hidden``, a BLSTM along
    time, projected back, added to the input."""

    def __init__(self, channels: int, bins: int, layers: int, hidden: int):
        super().__init__()
        size = channels * bins
        self.proj = nn.Linear(size, hidden)
        self.rnn = nn.LSTM(hidden, hidden // 2, num_layers=layers, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(hidden, size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, f, t = x.shape
        seq = self.proj(x.permute(0, 3, 1, 2).reshape(b, t, c * f))
        out = self.fc(self.rnn(torch.tanh(seq))[0]).reshape(b, t, c, f).permute(0, 2, 3, 1)
        return x + out


class _VAEBottleneck(nn.Module):
    """1x1 convolutions to mean and log-variance; sample while training, the mean otherwise."""

    def __init__(self, channels: int, latent: int):
        super().__init__()
        self.mu = nn.Conv2d(channels, latent, 1)
        self.logvar = nn.Conv2d(channels, latent, 1)
        self.out = nn.Conv2d(latent, channels, 1)
        self.kl = torch.zeros(())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu, logvar = self.mu(x), self.logvar(x).clamp(-10, 10)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        self.kl = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
        return self.out(z)


class SpectrogramUNet(nn.Module):
    """Mask U-Net on complex spectrograms: (B, C, F, T) -> (B, S, C, F, T)."""

    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = config
        c, s = config.channels, len(config.targets)
        widths = [config.hidden * 2 ** i for i in range(config.depth)]
        self.input_scale = nn.Parameter(torch.ones(config.num_bins))
        self.input_bias = nn.Parameter(torch.zeros(config.num_bins))
        self.down = nn.ModuleList([_Down(cin, cout, config.kernel, config.leak)
                                   for cin, cout in zip([c] + widths[:-1], widths)])
        bottom, bins = widths[-1], config.num_bins // 2 ** config.depth
        if config.bottleneck == "lstm":
            self.bottleneck = _LSTMBottleneck(bottom, bins, config.lstm_layers, config.lstm_hidden)
        elif config.bottleneck == "vae":
            self.bottleneck = _VAEBottleneck(bottom, config.latent)
        else:
            self.bottleneck = nn.Conv2d(bottom, bottom, 3, padding=1)
        ups, cin = [], bottom
        for i, cout in enumerate(reversed([config.hidden] + widths[:-1])):
            ups.append(_Up(cin, cout, config.kernel, config.dropout if i < 3 else 0.0))
            cin = cout * 2
        self.up = nn.ModuleList(ups)
        self.head = nn.Conv2d(config.hidden + c, c * s, 1)

    @property
    def kl(self) -> torch.Tensor:
        """KL divergence of the last forward pass (0 unless the bottleneck is a VAE)."""
        return getattr(self.bottleneck, "kl", torch.zeros(()))

    def masks(self, magnitude: torch.Tensor) -> torch.Tensor:
        """(B, C, F, T) magnitudes -> (B, S, C, F, T) masks."""
        cfg = self.config
        b, c, f, t = magnitude.shape
        mult = 2 ** cfg.depth
        pad = (-t) % mult
        x = torch.log1p(magnitude[:, :, :cfg.num_bins])
        x = x * self.input_scale[:, None] + self.input_bias[:, None]
        x = F.pad(x, (0, pad))
        skips = [x]
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = self.bottleneck(skips.pop())
        for block in self.up:
            x = torch.cat([block(x), skips.pop()], dim=1)
        mask = MASK_ACTIVATIONS[cfg.mask_activation](self.head(x))[..., :t]
        mask = mask.reshape(b, len(cfg.targets), c, cfg.num_bins, t)
        top = mask[:, :, :, -1:].expand(-1, -1, -1, f - cfg.num_bins, -1)
        return torch.cat([mask, top], dim=3)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        return self.masks(spec.abs()) * spec[:, None]
