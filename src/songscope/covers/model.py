"""CoverHunter's network (CoverHunterMPS ``src/model.py``): features in, a version embedding out.

``(B, T, F)`` CQT decibels -> batch norm over the F bins (``_global_cmvn``) -> conformer encoder
(``_encoder``: two 3x3 stride-2 convolutions (T, F -> about T/4, F/4) and a linear map to
``encoder.output_dims`` channels scaled by ``sqrt(channels)``; then ``num_blocks`` macaron
conformer blocks with relative-position self-attention (4 heads, WeNet's variant without the
relative shift), a depthwise convolution module (kernel 15, batch norm, SiLU) and SiLU
feed-forward modules of ``encoder.attention_dim`` units; a final layer norm) -> optional
projection to ``embed_dim`` (``_embed_lo``) -> attentive statistics pooling over time
(``_pool_layer``) -> ``(B, embed_dim)`` embedding. Training adds a batch-norm bottleneck
(``_bottleneck``), a bias-free classifier over the training works (``_ce_layer``, the focal
loss's head: CoverHunterMPS kept the original's name) and the centres of the center loss.

Module and parameter names are CoverHunterMPS's, so its state dicts load as they are.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import CoverHunterConfig
from .losses import CenterLoss, FocalLoss, HardTripletLoss

__all__ = ["TRAINING_ONLY", "CoverHunterNet", "relative_positions"]

_HEADS = 4
_CONV_KERNEL = 15
_DROPOUT = 0.1
_POOL_EPS = 1e-12
_LOG_10000 = math.log(10000.0)
#: Weights that only training reads (the center loss's class centres).
TRAINING_ONLY = ("_center_loss.centers",)


def relative_positions(frames: int, channels: int) -> torch.Tensor:
    """WeNet's sinusoidal table (1, frames, channels) float32: ``sin(t w_i)`` in even channels,
    ``cos(t w_i)`` in odd ones, ``w_i = exp(-2i ln(10000) / channels)``."""
    position = torch.arange(frames, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, channels, 2, dtype=torch.float32) * -(_LOG_10000 / channels))
    table = torch.zeros(frames, channels)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)
    return table[None]


class _Wrapped(nn.Module):
    """One layer under a named attribute (CoverHunter's ``Linear.linear_layer`` / ``Conv1d.conv``)."""

    def __init__(self, name: str, layer: nn.Module):
        super().__init__()
        self._name = name
        setattr(self, name, layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, self._name)(x)


class _Subsampling(nn.Module):
    """(B, T, F) -> (B, T', C): two 3x3 stride-2 convolutions with ReLU, T' = ((T - 1) // 2 - 1) // 2."""

    def __init__(self, bins: int, channels: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, channels, 3, 2), nn.ReLU(), nn.Conv2d(channels, channels, 3, 2), nn.ReLU())
        self.out = nn.Sequential(nn.Linear(channels * (((bins - 1) // 2 - 1) // 2), channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x[:, None])  # (B, C, T', F')
        return self.out(y.transpose(1, 2).flatten(2))


class _FeedForward(nn.Module):
    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.w_1, self.w_2 = nn.Linear(channels, hidden), nn.Linear(hidden, channels)
        self.dropout = nn.Dropout(_DROPOUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w_2(self.dropout(F.silu(self.w_1(x))))


class _RelativeAttention(nn.Module):
    """Multi-head self-attention with learned biases on content (``pos_bias_u``) and on the
    projected sinusoidal positions (``pos_bias_v``)."""

    def __init__(self, channels: int):
        super().__init__()
        self.d_k = channels // _HEADS
        self.linear_q, self.linear_k = nn.Linear(channels, channels), nn.Linear(channels, channels)
        self.linear_v, self.linear_out = nn.Linear(channels, channels), nn.Linear(channels, channels)
        self.linear_pos = nn.Linear(channels, channels, bias=False)
        self.pos_bias_u = nn.Parameter(torch.empty(_HEADS, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.empty(_HEADS, self.d_k))
        nn.init.xavier_uniform_(self.pos_bias_u)
        nn.init.xavier_uniform_(self.pos_bias_v)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, heads, T, d_k)."""
        return x.view(x.shape[0], -1, _HEADS, self.d_k).transpose(1, 2)

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        q, k, v = self._heads(self.linear_q(x)), self._heads(self.linear_k(x)), self._heads(self.linear_v(x))
        p = self._heads(self.linear_pos(positions))
        content = (q + self.pos_bias_u[None, :, None]) @ k.transpose(-2, -1)
        position = (q + self.pos_bias_v[None, :, None]) @ p.transpose(-2, -1)
        weights = torch.softmax((content + position) / math.sqrt(self.d_k), dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(x.shape)
        return self.linear_out(out)


class _ConvolutionModule(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.pointwise_conv1 = nn.Conv1d(channels, 2 * channels, 1)
        self.depthwise_conv = nn.Conv1d(channels, channels, _CONV_KERNEL, padding=_CONV_KERNEL // 2, groups=channels)
        self.norm = nn.BatchNorm1d(channels)
        self.pointwise_conv2 = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.glu(self.pointwise_conv1(x.transpose(1, 2)), dim=1)
        y = self.pointwise_conv2(F.silu(self.norm(self.depthwise_conv(y))))
        return y.transpose(1, 2)


class _ConformerBlock(nn.Module):
    """Macaron block: half feed-forward, attention, convolution, half feed-forward, layer norm;
    each module pre-normalised and added to its input."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.self_attn = _RelativeAttention(channels)
        self.feed_forward = _FeedForward(channels, hidden)
        self.feed_forward_macaron = _FeedForward(channels, hidden)
        self.conv_module = _ConvolutionModule(channels)
        for name in ("norm_ff", "norm_mha", "norm_ff_macaron", "norm_conv", "norm_final"):
            setattr(self, name, nn.LayerNorm(channels, eps=1e-5))
        self.dropout = nn.Dropout(_DROPOUT)

    def forward(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        x = x + 0.5 * self.dropout(self.feed_forward_macaron(self.norm_ff_macaron(x)))
        x = x + self.dropout(self.self_attn(self.norm_mha(x), positions))
        x = x + self.dropout(self.conv_module(self.norm_conv(x)))
        x = x + 0.5 * self.dropout(self.feed_forward(self.norm_ff(x)))
        return self.norm_final(x)


class _ConformerEncoder(nn.Module):
    """(B, T, F) -> (B, T', C), T' = ((T - 1) // 2 - 1) // 2."""

    def __init__(self, bins: int, channels: int, hidden: int, blocks: int):
        super().__init__()
        self.embed = _Subsampling(bins, channels)
        self.encoders = nn.ModuleList(_ConformerBlock(channels, hidden) for _ in range(blocks))
        self.after_norm = nn.LayerNorm(channels, eps=1e-5)
        self.dropout = nn.Dropout(_DROPOUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x)
        channels = x.shape[-1]
        x = self.dropout(x * math.sqrt(channels))
        positions = self.dropout(relative_positions(x.shape[1], channels).to(x.device))
        for block in self.encoders:
            x = block(x, positions)
        return self.after_norm(x)


def _weighted_statistics(x: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean and standard deviation over time of x (B, C, T) with weights summing to 1
    over T (B, 1 or C, T): two (B, C)."""
    mean = (weights * x).sum(2)
    std = torch.sqrt((weights * (x - mean[..., None]) ** 2).sum(2).clamp(_POOL_EPS))
    return mean, std


class _AttentivePooling(nn.Module):
    """Attentive statistics pooling: (B, T, C) -> (B, out). Per channel, attention weights over
    time come from the frame and the sequence's mean and standard deviation; the weighted mean
    and standard deviation are mapped linearly (no bias) to ``out``."""

    def __init__(self, channels: int, out: int):
        super().__init__()
        self._linear = _Wrapped("linear_layer", nn.Linear(channels * 3, channels))
        self._conv = _Wrapped("conv", nn.Conv1d(channels, channels, 1))
        self._final_layer = nn.Linear(channels * 2, out, bias=False)
        nn.init.xavier_uniform_(self._linear.linear_layer.weight)
        nn.init.xavier_uniform_(self._conv.conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(1, 2)  # (B, C, T)
        frames = x.shape[-1]
        uniform = torch.full((x.shape[0], 1, frames), 1.0 / frames, device=x.device, dtype=x.dtype)
        mean, std = _weighted_statistics(x, uniform)
        context = torch.cat([x, mean[..., None].expand_as(x), std[..., None].expand_as(x)], dim=1)
        scores = self._conv(torch.tanh(self._linear(context.transpose(1, 2))).transpose(1, 2))
        mean, std = _weighted_statistics(x, torch.softmax(scores, dim=2))
        return self._final_layer(torch.cat([mean, std], dim=1))


class CoverHunterNet(nn.Module):
    """CoverHunter: CQT features (B, T, input_dim) -> embeddings (B, embed_dim).

    T must be at least 7 frames (the two stride-2 convolutions). :meth:`logits` is the
    classifier CoverHunterMPS's ``inference`` applies to the embedding; :meth:`losses` is its
    ``compute_loss`` (focal loss on the bottleneck's logits, plus triplet and center losses).
    """

    def __init__(self, config: CoverHunterConfig):
        super().__init__()
        self.config = config
        width = config.encoder.output_dims
        self._global_cmvn = nn.BatchNorm1d(config.input_dim)
        self._encoder = _ConformerEncoder(config.input_dim, width, config.encoder.attention_dim,
                                          config.encoder.num_blocks)
        self._embed_lo = nn.Linear(width, config.embed_dim) if width != config.embed_dim else None
        self._bottleneck = nn.BatchNorm1d(config.embed_dim)
        self._bottleneck.bias.requires_grad_(False)
        self._pool_layer = _AttentivePooling(config.embed_dim, config.embed_dim)
        self._ce_layer = nn.Linear(config.embed_dim, config.foc.output_dims, bias=False)
        self._center_loss = CenterLoss(config.foc.output_dims, config.embed_dim)
        self._focal = FocalLoss(config.foc.gamma)
        self._triplet = HardTripletLoss(config.triplet.margin)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Embeddings (B, embed_dim) of float32 features (B, T, input_dim) in dB."""
        x = self._global_cmvn(features.transpose(1, 2)).transpose(1, 2)
        x = self._encoder(x)
        if self._embed_lo is not None:
            x = self._embed_lo(x)
        return self._pool_layer(x)

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Class scores (B, foc.output_dims) of embeddings (B, embed_dim), as CoverHunterMPS's
        ``inference`` gives them (no bottleneck)."""
        return self._ce_layer(embeddings)

    def losses(self, features: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Weighted total loss and its parts (``foc_loss``, ``tri_loss``, ``cen_loss`` when their
        weights are on) for features (B, T, input_dim) and work labels (B,)."""
        config = self.config
        embeddings = self(features)
        parts = {"foc_loss": self._focal(self._ce_layer(self._bottleneck(embeddings)), labels)}
        total = parts["foc_loss"] * config.foc.weight
        if config.triplet.weight > 0.01:
            parts["tri_loss"] = self._triplet(embeddings, labels)
            total = total + parts["tri_loss"] * config.triplet.weight
        if config.center.weight > 0.0:
            parts["cen_loss"] = self._center_loss(embeddings, labels)
            total = total + parts["cen_loss"] * config.center.weight
        return total, parts
