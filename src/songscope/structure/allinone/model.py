"""The All-In-One network (Kim & Nam, "All-In-One Metrical and Functional Structure Analysis with
Neighborhood Attentions on Demixed Audio", WASPAA 2023) as allin1 builds it.

Per stem, three convolutions turn the (T, 81) log spectrogram into (T, ``dim_embed``) frame
embeddings; ``depth`` blocks each apply a dilated 1-D neighbourhood attention over time (the
dilation doubling per block, optionally with a second attention at twice the dilation) and a
2-D neighbourhood attention over (stem, time); four linear heads read the concatenated stems of
every frame. Module and parameter names equal allin1's (``embeddings.conv0.weight``,
``encoder.layers.3.timelayer.attention2.self.rpb``, ``function_classifier.classifier.bias``, ...),
so its released state dicts load unchanged.

Like allin1, a layer whose axes are shorter than its attention window (kernel x dilation, twice
that with the double attention) pads them with zeros after its first layer norm; the padded frames
take part in the attention and are cropped afterwards. That padding is part of what the released
weights compute, so it is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .attention import na_av, na_qk
from .config import AllInOneConfig

__all__ = ["AllInOne", "AllInOneLogits"]

_EMBED_CHUNK = 4096  # frames per pass of the convolutional front (its receptive field is 5 frames)
_EMBED_CONTEXT = 2


def _activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU,
            "softmax": lambda: nn.Softmax(dim=1), "log_softmax": lambda: nn.LogSoftmax(dim=1), "elu": nn.ELU,
            "selu": nn.SELU, "gelu": nn.GELU, "prelu": nn.PReLU}[name]()


@dataclass
class AllInOneLogits:
    """Network outputs for a batch of N recordings of T frames.

    Attributes:
        beat, downbeat, section: (N, T) logits. function: (N, num_labels, T) logits.
        embeddings: (N, stems, T, dim_embed) normalised frame embeddings.
    """

    beat: torch.Tensor
    downbeat: torch.Tensor
    section: torch.Tensor
    function: torch.Tensor
    embeddings: torch.Tensor


class _DropPath(nn.Module):
    """Stochastic depth: drops whole examples of a residual branch while training."""

    def __init__(self, rate: float):
        super().__init__()
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = (keep + torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device)).floor_()
        return x.div(keep) * mask


class _NeighborhoodSelfAttention(nn.Module):
    """Multi-head neighbourhood attention over 1 or 2 axes (allin1's ``NeighborhoodAttention{1,2}d``)."""

    def __init__(self, cfg: AllInOneConfig, dim: int, num_heads: int, kernel_size: int, dilation: int, axes: int):
        super().__init__()
        self.num_heads, self.head_size = num_heads, dim // num_heads
        self.kernel_size, self.dilation = kernel_size, dilation
        self.query = nn.Linear(dim, dim, bias=cfg.qkv_bias)
        self.key = nn.Linear(dim, dim, bias=cfg.qkv_bias)
        self.value = nn.Linear(dim, dim, bias=cfg.qkv_bias)
        self.dropout = nn.Dropout(cfg.drop_attention)
        self.rpb = nn.Parameter(torch.zeros(num_heads, *(2 * kernel_size - 1,) * axes))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *S, H * D) -> (B, H, *S, D)."""
        return x.view(*x.shape[:-1], self.num_heads, self.head_size).movedim(-2, 1).contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *S, dim) -> (B, *S, dim)."""
        query = self._heads(self.query(x)) / math.sqrt(self.head_size)
        scores = na_qk(query, self._heads(self.key(x)), self.rpb, self.kernel_size, self.dilation)
        probs = self.dropout(torch.softmax(scores, dim=-1))
        context = na_av(probs, self._heads(self.value(x)), self.kernel_size, self.dilation)
        return context.movedim(1, -2).reshape(x.shape)


class _AttentionOutput(nn.Module):
    def __init__(self, dim_in: int, dim_out: int, dropout: float):
        super().__init__()
        self.dense = nn.Linear(dim_in, dim_out)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(x))


class _AttentionModule(nn.Module):
    def __init__(self, cfg: AllInOneConfig, dim: int, num_heads: int, kernel_size: int, dilation: int, axes: int):
        super().__init__()
        self.self = _NeighborhoodSelfAttention(cfg, dim, num_heads, kernel_size, dilation, axes)
        self.output = _AttentionOutput(dim, dim, cfg.drop_attention)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(x))


class _Intermediate(nn.Module):
    def __init__(self, cfg: AllInOneConfig, dim_in: int, dim_out: int):
        super().__init__()
        self.dense = nn.Linear(dim_in, dim_out)
        self.intermediate_act_fn = _activation(cfg.act_transformer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.intermediate_act_fn(self.dense(x))


class _DinatLayer(nn.Module):
    """Pre-norm transformer layer with neighbourhood attention over 1 axis (time) or 2 (stem, time)."""

    def __init__(self, cfg: AllInOneConfig, kernel_size: int, dilation: int, drop_path_rate: float,
                 double_attention: bool, axes: int):
        super().__init__()
        dim, heads = cfg.dim_embed, cfg.num_heads
        self.double_attention = double_attention
        self.window_size = kernel_size * dilation * (2 if double_attention else 1)
        self.layernorm_before = nn.LayerNorm(dim, eps=cfg.layer_norm_eps)
        self.drop_path = _DropPath(drop_path_rate) if drop_path_rate > 0.0 else nn.Identity()
        dim_after = dim * 2 if double_attention else dim
        self.layernorm_after = nn.LayerNorm(dim_after, eps=cfg.layer_norm_eps)
        self.intermediate = _Intermediate(cfg, dim_after, int(dim_after * cfg.mlp_ratio))
        self.output = _AttentionOutput(int(dim_after * cfg.mlp_ratio), dim, cfg.drop_hidden)
        self.attention = _AttentionModule(cfg, dim, heads, kernel_size, dilation, axes)
        self.attention2 = _AttentionModule(cfg, dim, heads, kernel_size, dilation * 2, axes) if double_attention else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, dim) or (B, K, T, dim) -> the same shape."""
        shortcut = x
        hidden = self.layernorm_before(x)
        sizes = x.shape[1:-1]
        pads = [max(0, self.window_size - n) for n in sizes]
        if any(pads):
            hidden = nn.functional.pad(hidden, [0, 0] + [v for p in reversed(pads) for v in (0, p)])
        crop = (slice(None),) + tuple(slice(0, n) for n in sizes)
        branches = [shortcut + self.drop_path(attention(hidden)[crop])
                    for attention in (self.attention, self.attention2) if attention is not None]
        if self.double_attention:
            hidden = torch.cat(branches, dim=-1)
            shortcut = torch.stack(branches).sum(dim=0) / 2.0
        else:
            hidden = shortcut = branches[0]
        return shortcut + self.drop_path(self.output(self.intermediate(self.layernorm_after(hidden))))


class _Block(nn.Module):
    def __init__(self, cfg: AllInOneConfig, dilation: int, drop_path_rate: float):
        super().__init__()
        self.num_instruments = cfg.num_instruments
        self.instrument_attention = cfg.instrument_attention
        self.timelayer = _DinatLayer(cfg, cfg.kernel_size, dilation, drop_path_rate, cfg.double_attention, axes=1)
        self.instlayer = _DinatLayer(cfg, 5, 1, drop_path_rate, False, axes=2 if cfg.instrument_attention else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N * K, T, dim) -> (N * K, T, dim)."""
        x = self.timelayer(x)
        if not self.instrument_attention:
            return self.instlayer(x)
        nk, frames, dim = x.shape
        return self.instlayer(x.reshape(nk // self.num_instruments, self.num_instruments, frames, dim)).reshape(x.shape)


class _Encoder(nn.Module):
    def __init__(self, cfg: AllInOneConfig):
        super().__init__()
        rates = [x.item() for x in torch.linspace(0, cfg.drop_path, cfg.depth)]
        self.layers = nn.ModuleList([_Block(cfg, d, r) for d, r in zip(cfg.dilations, rates)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class _Embeddings(nn.Module):
    """(N * K, 1, T, 81) spectrograms -> (N * K, T, dim) frame embeddings."""

    def __init__(self, cfg: AllInOneConfig):
        super().__init__()
        dim = cfg.dim_embed
        first = dim if cfg.model == "tcn" else dim // 2
        self.act_fn = _activation(cfg.act_conv)
        self.conv0 = nn.Conv2d(1, first, kernel_size=(3, 3), stride=(1, 1), padding=(1, 0))
        self.pool0 = nn.MaxPool2d(kernel_size=(1, 3), stride=(1, 3), padding=(0, 0))
        self.drop0 = nn.Dropout(cfg.drop_conv)
        self.conv1 = nn.Conv2d(first, dim, kernel_size=(1, 12), stride=(1, 1), padding=(0, 0))
        self.pool1 = nn.MaxPool2d(kernel_size=(1, 3), stride=(1, 3), padding=(0, 0))
        self.drop1 = nn.Dropout(cfg.drop_conv)
        self.conv2 = nn.Conv2d(dim, dim, kernel_size=(3, 3), stride=(1, 1), padding=(1, 0))
        self.pool2 = nn.MaxPool2d(kernel_size=(1, 3), stride=(1, 3), padding=(0, 0))
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(cfg.drop_conv)

    def _convolve(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop0(self.act_fn(self.pool0(self.conv0(x))))
        x = self.drop1(self.act_fn(self.pool1(self.conv1(x))))
        return self.act_fn(self.pool2(self.conv2(x))).squeeze(-1).permute(0, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[2]
        parts = []
        for start in range(0, frames, _EMBED_CHUNK):  # in pieces with 2 frames of context: the same numbers
            lo, hi = max(0, start - _EMBED_CONTEXT), min(frames, start + _EMBED_CHUNK + _EMBED_CONTEXT)
            part = self._convolve(x[:, :, lo:hi])
            parts.append(part[:, start - lo:start - lo + min(_EMBED_CHUNK, frames - start)])
        return self.dropout(self.norm(torch.cat(parts, dim=1)))


class _Head(nn.Module):
    def __init__(self, cfg: AllInOneConfig, num_classes: int, init_confidence: float | None = None):
        super().__init__()
        self.classifier = nn.Linear(cfg.num_instruments * cfg.dim_embed, num_classes)
        if init_confidence is not None:  # focal-loss initialisation (Lin et al., ICCV 2017), as allin1
            with torch.no_grad():
                self.classifier.bias.fill_(-math.log(1.0 / init_confidence - 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, K, T, dim) -> (N, classes, T), or (N, T) for one class."""
        batch, inst, frames, embed = x.shape
        logits = self.classifier(x.permute(0, 2, 1, 3).reshape(batch, frames, inst * embed)).permute(0, 2, 1)
        return logits.squeeze(1) if logits.shape[1] == 1 else logits


class AllInOne(nn.Module):
    """allin1's ``AllInOne`` network (see the module docstring)."""

    def __init__(self, cfg: AllInOneConfig):
        super().__init__()
        self.cfg = cfg
        self.embeddings = _Embeddings(cfg)
        self.encoder = _Encoder(cfg)
        self.norm = nn.LayerNorm(cfg.dim_embed, eps=cfg.layer_norm_eps)
        self.beat_classifier = _Head(cfg, 1, init_confidence=0.05)
        self.downbeat_classifier = _Head(cfg, 1, init_confidence=0.0125)
        self.section_classifier = _Head(cfg, 1, init_confidence=0.001)
        self.function_classifier = _Head(cfg, cfg.num_labels)
        self.dropout = nn.Dropout(cfg.drop_last)

    def forward(self, spectrograms: torch.Tensor) -> AllInOneLogits:
        """Logits and embeddings of (N, stems, T, dim_input) log spectrograms (at ``cfg.fps``)."""
        n, k, frames, bins = spectrograms.shape
        hidden = self.encoder(self.embeddings(spectrograms.reshape(n * k, 1, frames, bins)))
        hidden = self.dropout(self.norm(hidden.reshape(n, k, frames, -1)))
        return AllInOneLogits(self.beat_classifier(hidden), self.downbeat_classifier(hidden),
                              self.section_classifier(hidden), self.function_classifier(hidden), hidden)
