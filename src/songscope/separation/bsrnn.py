"""Band-Split RNN (Luo & Yu, "Music Source Separation with Band-split RNN", 2022).

The complex spectrogram of the mixture is cut into K sub-bands (``bands.py``); each band is
normalised and projected to ``fc_dim`` features (band split); a stack of residual blocks
models the (K, T) grid with a BLSTM across time and then a BLSTM across bands (band and
sequence modelling); per band an MLP with a GLU output estimates a complex mask for every
target (mask estimation). Output: complex target spectrograms, one per target.

Parameter names follow the public PyTorch implementation (``bandsplit.layernorms.i``,
``bandsequence.bsrnn.l.{0,1}.{groupnorm,rnn,fc}``, ``maskest.<target>.mlp.i.mlp.{0,2,3}``),
so its Lightning checkpoints load with a prefix rename (``models/converters/bsrnn_lightning.py``). Two settings
exist only for those checkpoints: ``chunk_frames`` (their layer norms span a fixed number
of frames) and ``legacy_mask_layout`` (their order of mask values).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from ..conventions import STEMS
from .bands import LAYOUTS, band_edges

__all__ = ["BSRNNConfig", "BandSplitRNN"]


@dataclass
class BSRNNConfig:
    """Architecture of a Band-Split RNN.

    Attributes:
        targets: stems it estimates (one mask head each; the paper trains one model per stem).
        sample_rate, n_fft, hop: STFT settings (Hz, samples).
        channels: audio channels the model sees (2 = stereo, 1 = mono).
        bands: a layout name of ``bands.LAYOUTS`` or explicit ``[[end_hz, width_hz], ...]``;
            None: the layout of the first target.
        fc_dim: features per band (N). rnn_dim: LSTM hidden size. num_layers: band-and-sequence
            blocks (12 in the paper). mlp_dim: hidden size of the mask MLPs.
        rnn_type: "LSTM" or "GRU". bidirectional: BLSTM (paper) or causal LSTM.
        norm_groups: groups of the group norm before each RNN (1: over all features).
        chunk_frames: None (layer norms per frame, any length) or the fixed frame count
            that public Lightning checkpoints were built for.
        legacy_mask_layout: reshape mask outputs as the public implementation does.
    """

    targets: tuple[str, ...] = ("vocals",)
    sample_rate: int = 44100
    n_fft: int = 2048
    hop: int = 512
    channels: int = 2
    bands: Any = None
    fc_dim: int = 128
    rnn_dim: int = 256
    num_layers: int = 12
    mlp_dim: int = 512
    rnn_type: str = "LSTM"
    bidirectional: bool = True
    norm_groups: int = 1
    chunk_frames: int | None = None
    legacy_mask_layout: bool = False
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.targets = tuple(self.targets)
        unknown = [t for t in self.targets if t not in STEMS]
        if unknown or not self.targets:
            raise ValueError(f"targets must be among {', '.join(STEMS)}")
        if self.bands is None:
            self.bands = self.targets[0]
        if isinstance(self.bands, str):
            if self.bands not in LAYOUTS:
                raise ValueError(f"unknown band layout {self.bands!r}; known: {', '.join(LAYOUTS)}")
        else:
            self.bands = tuple(tuple(int(v) for v in pair) for pair in self.bands)
        if self.rnn_type not in ("LSTM", "GRU"):
            raise ValueError("rnn_type must be LSTM or GRU")

    def edges(self) -> list[tuple[int, int]]:
        """Bin ranges of the bands."""
        layout = LAYOUTS[self.bands] if isinstance(self.bands, str) else self.bands
        return band_edges(layout, self.sample_rate, self.n_fft)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _band_norm(features: int, config: BSRNNConfig) -> nn.LayerNorm:
    """Per-frame layer norm, or over (features, frames) for fixed-chunk checkpoints."""
    if config.chunk_frames is None:
        return nn.LayerNorm(features)
    return nn.LayerNorm([features, config.chunk_frames])


class BandSplit(nn.Module):
    """(B, C, F, T) complex -> (B, K, T, N): per band, norm + linear projection."""

    def __init__(self, config: BSRNNConfig):
        super().__init__()
        self.edges = config.edges()
        self.per_frame = config.chunk_frames is None
        widths = [(e - s) * 2 * config.channels for s, e in self.edges]
        self.layernorms = nn.ModuleList([_band_norm(w, config) for w in widths])
        self.fcs = nn.ModuleList([nn.Linear(w, config.fc_dim) for w in widths])

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        batch, _, _, frames = spec.shape
        real = torch.view_as_real(spec).permute(0, 1, 4, 2, 3)  # B, C, 2, F, T
        out = []
        for (start, end), norm, fc in zip(self.edges, self.layernorms, self.fcs):
            band = real[:, :, :, start:end].reshape(batch, -1, frames)  # B, C*2*bw, T
            band = norm(band.transpose(1, 2)) if self.per_frame else norm(band).transpose(1, 2)
            out.append(fc(band))
        return torch.stack(out, dim=1)


class SequenceBlock(nn.Module):
    """Group norm, (B)LSTM along the third axis, linear, residual; then swaps axes 1 and 2."""

    def __init__(self, config: BSRNNConfig):
        super().__init__()
        n = config.fc_dim
        self.groupnorm = nn.GroupNorm(config.norm_groups, n)
        self.rnn = getattr(nn, config.rnn_type)(n, config.rnn_dim, batch_first=True,
                                                bidirectional=config.bidirectional)
        self.fc = nn.Linear(config.rnn_dim * (2 if config.bidirectional else 1), n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, A, L, N) -> (B, L, A, N), modelling along L."""
        b, a, length, n = x.shape
        out = x.reshape(b * a, length, n)
        out = self.groupnorm(out.transpose(1, 2)).transpose(1, 2)
        out = self.fc(self.rnn(out)[0])
        return (out.reshape(b, a, length, n) + x).transpose(1, 2).contiguous()


class BandSequence(nn.Module):
    """``num_layers`` pairs of sequence blocks: across time, then across bands."""

    def __init__(self, config: BSRNNConfig):
        super().__init__()
        self.bsrnn = nn.ModuleList([nn.Sequential(SequenceBlock(config), SequenceBlock(config))
                                    for _ in range(config.num_layers)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, K, T, N) -> (B, K, T, N)."""
        for block in self.bsrnn:
            x = block(x)
        return x


class GLU(nn.Module):
    """Linear to twice the width, first half gated by the sigmoid of the second."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.linear = nn.Linear(dim, dim * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.linear(x)
        return x[..., :self.dim] * torch.sigmoid(x[..., self.dim:])


class MaskMLP(nn.Module):
    """Linear, tanh, linear, GLU."""

    def __init__(self, dim: int, hidden: int, out: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, out), GLU(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


class MaskEstimation(nn.Module):
    """(B, K, T, N) -> complex mask (B, C, F, T) for one target."""

    def __init__(self, config: BSRNNConfig):
        super().__init__()
        self.edges = config.edges()
        self.channels, self.legacy = config.channels, config.legacy_mask_layout
        norm_shape = config.fc_dim if config.chunk_frames is None else [config.chunk_frames, config.fc_dim]
        self.layernorms = nn.ModuleList([nn.LayerNorm(norm_shape) for _ in self.edges])
        self.mlp = nn.ModuleList([MaskMLP(config.fc_dim, config.mlp_dim, (e - s) * 2 * config.channels)
                                  for s, e in self.edges])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, frames, _ = x.shape
        masks = []
        for i, ((start, end), norm, mlp) in enumerate(zip(self.edges, self.layernorms, self.mlp)):
            out = mlp(norm(x[:, i]))  # B, T, C*2*bw
            if self.legacy:
                out = out.reshape(batch, self.channels, 2, end - start, frames).permute(0, 1, 3, 4, 2)
            else:
                out = out.reshape(batch, frames, self.channels, 2, end - start).permute(0, 2, 4, 1, 3)
            masks.append(torch.view_as_complex(out.contiguous()))
        return torch.cat(masks, dim=2)


class BandSplitRNN(nn.Module):
    """Band-Split RNN on complex spectrograms: (B, C, F, T) -> (B, S, C, F, T), S = len(targets)."""

    def __init__(self, config: BSRNNConfig):
        super().__init__()
        self.config = config
        self.bandsplit = BandSplit(config)
        self.bandsequence = BandSequence(config)
        self.maskest = nn.ModuleDict({t: MaskEstimation(config) for t in config.targets})

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        frames = spec.shape[-1]
        if self.config.chunk_frames is not None and frames != self.config.chunk_frames:
            raise ValueError(f"this checkpoint needs chunks of exactly {self.config.chunk_frames} frames, got {frames}")
        mean = spec.mean(dim=(1, 2, 3), keepdim=True)
        std = spec.std(dim=(1, 2, 3), keepdim=True)
        normed = (spec - mean) / (std + 1e-5)
        features = self.bandsequence(self.bandsplit(normed))
        outs = [self.maskest[t](features) * normed * std + mean for t in self.config.targets]
        return torch.stack(outs, dim=1)
