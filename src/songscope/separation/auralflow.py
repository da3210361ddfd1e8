"""Auralflow's spectrogram mask networks (Kian Zohoury, PyPI ``auralflow`` 0.1.0, MIT licence).

Three networks, each estimating one target's magnitude mask from the mixture magnitude:

- ``simple`` (Auralflow's ``SpectrogramNetSimple``): an optional layer norm over the whole input
  (channels x bins x frames); six encoder blocks of three 3x3 convolutions (SELU, or LeakyReLU
  with ``leak``; batch norm after the third activation) each followed by 2x2 max-pooling, the
  channels doubling from ``hidden``; a bottleneck of three such convolutions; six decoder
  blocks (5x5 transposed convolution with stride 2 to the skip's size, batch norm, three
  SELU convolutions on [up, skip], 2-D dropout); a 1x1 convolution to the audio channels; a
  learned per-bin output normalisation ``(x - center) * scale``; the mask activation; the
  mask clamped to [0, 1];
- ``lstm`` (``SpectrogramNetLSTM``): the convolutional bottleneck stays in the state dict (as
  in Auralflow) but is not used; in its place a 3-layer bidirectional LSTM of 1024
  units on the flattened encoder output, then Linear-SELU-Linear-SELU back to twice the
  encoder's channels; no clamp. As in Auralflow the LSTM is not batch-first, so its sequence
  axis is the batch and each (example, frame) pair is one of its batch items;
- ``vae`` (``SpectrogramNetVAE``): as ``lstm`` with a Gaussian latent before the LSTM: linear
  maps to the mean and log standard deviation, z = mu + sigma * eps; ``kl`` holds
  0.5 * mean(mu^2 + sigma^2 - log sigma^2 - 1) of the last forward pass. Auralflow draws eps
  at inference too; songscope uses the mean there unless ``latent_sampling = "always"``.

Parameter names are Auralflow's, so the state dict its training saves loads as it is
(``models/converters/auralflow.py``). The layer norm and the transposed-convolution paddings
depend on the chunk length, so a network takes chunks of exactly ``chunk_frames`` frames
(Auralflow's ``sample_length`` seconds, padded to a whole hop: see :func:`auralflow_frames`).

Input: complex mixture spectrogram (B, C, F, T), F = n_fft // 2 + 1, T = chunk_frames.
Output: the target's complex spectrogram, mask x mixture, (B, 1, C, F, T).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ..conventions import STEMS

__all__ = ["ARCHITECTURES", "MASK_ACTIVATIONS", "AuralflowConfig", "AuralflowLSTM", "AuralflowSimple",
           "AuralflowVAE", "auralflow_frames"]

#: songscope family name -> Auralflow class name.
ARCHITECTURES = {"auralflow-simple": "SpectrogramNetSimple", "auralflow-lstm": "SpectrogramNetLSTM",
                 "auralflow-vae": "SpectrogramNetVAE"}
#: Auralflow's ``mask_act_fn`` values (any other name means sigmoid in Auralflow).
MASK_ACTIVATIONS = ("sigmoid", "relu", "hardtanh", "tanh", "softmax", "prelu", "selu")
_DEPTH = 6


def auralflow_frames(sample_length: float, sample_rate: int, hop: int) -> int:
    """Frames of Auralflow's chunks: ``sample_length`` seconds padded with zeros up to the next
    whole hop (a full hop when already whole), STFT centred."""
    samples = int(round(sample_length * sample_rate))
    return (samples + hop - samples % hop) // hop + 1


@dataclass
class AuralflowConfig:
    """Settings of an Auralflow mask network (names as in Auralflow's config where it has them).

    Attributes:
        targets: the one stem the network estimates. sample_rate: Hz.
        n_fft, window, hop: STFT size, Hann window length and step (samples).
        channels: audio channels (1 = mono, as Auralflow's default).
        chunk_frames: STFT frames per chunk (the layer norm and deconvolutions are built for it).
        hidden: channels of the first encoder block (``hidden_channels``).
        leak: LeakyReLU slope of the encoder (0: SELU), ``leak_factor``.
        dropout: 2-D dropout of the first three decoder blocks (``dropout_p``; the last three use 0.4).
        normalize_input, normalize_output: learn the input layer norm / the output centre and scale.
        mask_activation: one of :data:`MASK_ACTIVATIONS`.
        recurrent_depth, hidden_size, input_axis: LSTM layers, units, and the axis of the
            encoder output flattened into its features (0: bins, 1: frames).
        latent_sampling: "train" (sample z while training, the mean at inference) or "always" (Auralflow).
    """

    targets: tuple[str, ...] = ("vocals",)
    sample_rate: int = 44100
    n_fft: int = 1024
    window: int = 1024
    hop: int = 512
    channels: int = 1
    chunk_frames: int = 260
    hidden: int = 16
    leak: float = 0.0
    dropout: float = 0.5
    normalize_input: bool = False
    normalize_output: bool = False
    mask_activation: str = "sigmoid"
    recurrent_depth: int = 3
    hidden_size: int = 1024
    input_axis: int = 0
    latent_sampling: str = "train"

    def __post_init__(self) -> None:
        self.targets = tuple(self.targets)
        if len(self.targets) != 1 or self.targets[0] not in STEMS:
            raise ValueError(f"an Auralflow network estimates one target among {', '.join(STEMS)}")
        if self.mask_activation not in MASK_ACTIVATIONS:
            raise ValueError(f"mask_activation must be one of {', '.join(MASK_ACTIVATIONS)}")
        if self.latent_sampling not in ("train", "always"):
            raise ValueError("latent_sampling must be 'train' or 'always'")
        if self.input_axis not in (0, 1):
            raise ValueError("input_axis must be 0 (bins) or 1 (frames)")
        if min(self.n_fft // 2 + 1, self.chunk_frames) >> _DEPTH < 1:
            raise ValueError(f"bins and chunk_frames must be at least {2 ** _DEPTH} (six 2x2 poolings)")
        if not 0 < self.window <= self.n_fft:
            raise ValueError("window must be in (0, n_fft]")

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _activation(leak: float) -> nn.Module:
    return nn.LeakyReLU(leak) if leak > 0 else nn.SELU()


class ConvBlock(nn.Module):
    """3x3 'same' convolution -> activation -> batch norm (or nothing); bias only without norm."""

    def __init__(self, cin: int, cout: int, norm: bool, leak: float):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding="same", bias=not norm)
        self.activation = _activation(leak)
        self.bn = nn.BatchNorm2d(cout) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.activation(self.conv(x)))


class ConvBlockTriple(nn.Module):
    """Three :class:`ConvBlock`, the last with batch norm."""

    def __init__(self, cin: int, cout: int, leak: float):
        super().__init__()
        self.conv = nn.Sequential(ConvBlock(cin, cout, False, leak), ConvBlock(cout, cout, False, leak),
                                  ConvBlock(cout, cout, True, leak))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class DownBlock(nn.Module):
    """Triple convolution, then 2x2 max-pooling; returns (pooled, skip)."""

    def __init__(self, cin: int, cout: int, leak: float):
        super().__init__()
        self.conv_block = ConvBlockTriple(cin, cout, leak)
        self.down = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skip = self.conv_block(x)
        return self.down(skip), skip


class UpBlock(nn.Module):
    """5x5 stride-2 transposed convolution to the skip's size, batch norm, triple SELU
    convolution of [up, skip], 2-D dropout."""

    def __init__(self, cin: int, cout: int, padding: tuple[int, int], dropout: float):
        super().__init__()
        self.conv_block = ConvBlockTriple(cin, cout, 0.0)
        self.up = nn.ConvTranspose2d(cin, cout, 5, stride=2, padding=padding)
        self.bn = nn.BatchNorm2d(cout)
        self.dropout = nn.Dropout2d(dropout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.up(x, output_size=skip.shape))
        return self.dropout(self.conv_block(torch.cat([x, skip], dim=1)))


class CenterScaleNormalization(nn.Module):
    """Per-bin ``(x - center) * scale`` on (B, C, F, T); frozen at (0, 1) unless learned."""

    def __init__(self, bins: int, learn: bool):
        super().__init__()
        self.center = nn.Parameter(torch.zeros(bins), requires_grad=learn)
        self.scale = nn.Parameter(torch.ones(bins), requires_grad=learn)
        if learn:
            nn.init.uniform_(self.center, 0.0, 0.1)
            nn.init.uniform_(self.scale, 1.0, 1.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.center[:, None]) * self.scale[:, None]


class _InputNorm(nn.Module):
    """Layer norm over (C, F, T) of the whole chunk, or the identity (Auralflow's nesting of names)."""

    def __init__(self, config: AuralflowConfig):
        super().__init__()
        self.layer_norm = nn.Module()
        self.layer_norm.layer_norm = (nn.LayerNorm([config.channels, config.bins, config.chunk_frames])
                                      if config.normalize_input else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_norm.layer_norm(x)


def _mask_activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU(), "hardtanh": nn.Hardtanh(0.0, 1.0), "tanh": nn.Tanh(), "softmax": nn.Softmax(dim=1),
            "prelu": nn.PReLU(), "selu": nn.SELU()}.get(name, nn.Sigmoid())


def _deconv_padding(size_in: tuple[int, int], size_out: tuple[int, int]) -> tuple[int, int]:
    """Padding of a 5x5 stride-2 transposed convolution from ``size_in`` towards ``size_out``."""
    pad = tuple(math.ceil((5 - o + 2 * (i - 1)) / 2) for i, o in zip(size_in, size_out))
    if min(pad) < 0:
        raise ValueError("chunk too short for six pooling levels")
    return pad


class AuralflowSimple(nn.Module):
    """``SpectrogramNetSimple``: (B, C, F, T) complex -> (B, 1, C, F, T) complex (see the module docstring)."""

    def __init__(self, config: AuralflowConfig):
        super().__init__()
        self.config = config
        widths = [config.channels] + [config.hidden << i for i in range(_DEPTH + 1)]
        self.input_norm = _InputNorm(config)
        for level in range(_DEPTH):
            self.add_module(f"down_{level + 1}", DownBlock(widths[level], widths[level + 1], config.leak))
        self.bottleneck = ConvBlockTriple(widths[_DEPTH], widths[_DEPTH + 1], 0.0)
        sizes = [(config.bins >> i, config.chunk_frames >> i) for i in range(_DEPTH + 1)]
        for level in range(_DEPTH):
            deep = _DEPTH - level
            self.add_module(f"up_{level + 1}", UpBlock(widths[deep + 1], widths[deep],
                                                       _deconv_padding(sizes[deep], sizes[deep - 1]),
                                                       config.dropout if level < 3 else 0.4))
        self.soft_conv = nn.Sequential(nn.Conv2d(config.hidden, config.channels, 1))
        self.output_norm = CenterScaleNormalization(config.bins, config.normalize_output)
        self.mask_activation = _mask_activation(config.mask_activation)

    def encode(self, magnitude: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(B, C, F, T) -> deepest encoding (B, 32 hidden, F >> 6, T >> 6) and the six skips."""
        frames = magnitude.shape[-1]
        if frames != self.config.chunk_frames:
            raise ValueError(f"this Auralflow network takes chunks of exactly {self.config.chunk_frames} frames, "
                             f"got {frames}")
        x, skips = self.input_norm(magnitude), []
        for level in range(_DEPTH):
            x, skip = getattr(self, f"down_{level + 1}")(x)
            skips.append(skip)
        return x, skips

    def bottleneck_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Deepest encoding -> decoder input (B, 64 hidden, F >> 6, T >> 6)."""
        return self.bottleneck(x)

    def decode(self, x: torch.Tensor, skips: list[torch.Tensor]) -> torch.Tensor:
        """Decoder input and skips -> mask (B, C, F, T) before any clamp."""
        for level in range(_DEPTH):
            x = getattr(self, f"up_{level + 1}")(x, skips[_DEPTH - 1 - level])
        return self.mask_activation(self.output_norm(self.soft_conv(x)))

    def masks(self, magnitude: torch.Tensor) -> torch.Tensor:
        """(B, C, F, T) mixture magnitude -> (B, C, F, T) mask in [0, 1]."""
        x, skips = self.encode(magnitude)
        return self.decode(self.bottleneck_forward(x), skips).clamp(0.0, 1.0)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        return (self.masks(spec.abs()) * spec)[:, None]


class AuralflowLSTM(AuralflowSimple):
    """``SpectrogramNetLSTM``: the bottleneck is a BLSTM stack and two dense layers."""

    def __init__(self, config: AuralflowConfig):
        super().__init__(config)
        deep = config.hidden << (_DEPTH - 1)
        axis = (config.bins, config.chunk_frames)[config.input_axis] >> _DEPTH
        self.num_features = deep * axis
        self.lstm = nn.LSTM(self.num_features, config.hidden_size, num_layers=config.recurrent_depth,
                            bidirectional=True, dropout=0.5)
        self.linear = nn.Sequential(nn.Linear(config.hidden_size * 2, config.hidden_size), nn.SELU(),
                                    nn.Linear(config.hidden_size, self.num_features * 2), nn.SELU())

    def _flatten(self, x: torch.Tensor) -> torch.Tensor:
        """(B, K, F', T') -> (B, T', K F') for input_axis 0, (B, F', K T') for 1."""
        b, k, f, t = x.shape
        if self.config.input_axis == 0:
            return x.permute(0, 3, 1, 2).reshape(b, t, k * f)
        return x.permute(0, 2, 1, 3).reshape(b, f, k * t)

    def _recurrent(self, seq: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        """LSTM (sequence axis: the batch, as Auralflow) and dense layers, back to (B, 2K, F', T')."""
        b, k, f, t = shape
        out = self.linear(self.lstm(seq)[0].reshape(b * seq.shape[1], -1))
        if self.config.input_axis == 0:
            return out.reshape(b, t, 2 * k, f).permute(0, 2, 3, 1)
        return out.reshape(b, f, 2 * k, t).permute(0, 2, 1, 3)

    def bottleneck_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._recurrent(self._flatten(x), x.shape)

    def masks(self, magnitude: torch.Tensor) -> torch.Tensor:
        """(B, C, F, T) mixture magnitude -> (B, C, F, T) mask (not clamped, as Auralflow)."""
        x, skips = self.encode(magnitude)
        return self.decode(self.bottleneck_forward(x), skips)


class AuralflowVAE(AuralflowLSTM):
    """``SpectrogramNetVAE``: a Gaussian latent z = mu + sigma * eps before the LSTM."""

    def __init__(self, config: AuralflowConfig):
        super().__init__(config)
        self.mu = nn.Linear(self.num_features, self.num_features)
        self.log_sigma = nn.Linear(self.num_features, self.num_features)
        self.kl = torch.zeros(())
        self.noise: torch.Tensor | None = None

    def bottleneck_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Also sets ``kl``. z = mu + sigma * eps while training or when ``latent_sampling`` is
        "always", eps drawn from N(0, 1) or, when ``noise`` is set, that tensor (reproducible
        sampling, (B, T', features)); else z = mu."""
        seq = self._flatten(x)
        mu, sigma = self.mu(seq), torch.exp(self.log_sigma(seq))
        self.kl = 0.5 * torch.mean(mu ** 2 + sigma ** 2 - torch.log(sigma ** 2) - 1)
        if self.training or self.config.latent_sampling == "always":
            eps = self.noise if self.noise is not None else torch.randn_like(sigma)
            latent = mu + sigma * eps
        else:
            latent = mu
        return self._recurrent(latent, x.shape)
