"""ChromaNet, the network of STONE and 24-STONE (Kong et al., ISMIR 2024).

Input: the log CQT of 15 s segments, (B, 1, 84, T) (A0 .. G#7, 646 frames at 22.05 kHz and
hop 512). Seven stages, each a time-downsampling block (norm, Conv2d (1, 2) stride (1, 2),
GELU) followed by a ConvNeXt block (depthwise k x k conv with replicate padding, norm,
Linear C -> 4C, GELU, Linear 4C -> C, per-channel gain, residual). The head averages the
84 bins over their 7 octaves (octave-equivalent pooling, 12 pitch classes, class 0 = A),
then over time, and a 1 x 1 convolution gives 12 logits (key signatures) or 2 x 12 (minor,
major) normalised by a non-affine BatchNorm (24 keys).

Two normalisations, as in the published checkpoints:
``"frame"``: LayerNorm over (bins x channels) of each frame with affine (84, C) weights
(the 12-class STONE model); ``"global"``: LayerNorm over the whole (C, 84, T) map of each
example, without parameters (the 24-class model).

Parameter names follow the official state dict, so its ``chromanet.*`` entries load as they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..audio.cqt_torch import HCQTConfig
from .hcqt import HarmonicCQT

__all__ = ["ChromaNet", "ChromaNetConfig", "KeyModel"]


@dataclass(frozen=True)
class ChromaNetConfig:
    """Architecture of a ChromaNet (defaults: the published STONE checkpoints).

    Attributes:
        n_bins: CQT bins fed to the network (a multiple of 12).
        channels: output channels of the seven stages.
        kernels: depthwise kernel size of each stage.
        num_classes: 12 (key signatures) or 24 (keys: 12 minor then 12 major).
        norm: ``"frame"`` (affine, per frame) or ``"global"`` (non-affine, per example).
        temperature: softmax temperature.
        drop_path: stochastic depth rate during training.
        hcqt: front-end settings.
        segment_seconds: length of the analysis windows (s).
    """

    n_bins: int = 84
    channels: tuple[int, ...] = (2, 3, 40, 40, 30, 10, 3)
    kernels: tuple[int, ...] = (7, 7, 7, 7, 7, 5, 5)
    num_classes: int = 12
    norm: str = "frame"
    temperature: float = 1.0
    drop_path: float = 0.1
    hcqt: HCQTConfig = field(default_factory=HCQTConfig)
    segment_seconds: float = 15.0

    def __post_init__(self) -> None:
        if self.num_classes not in (12, 24):
            raise ValueError("num_classes must be 12 or 24")
        if self.norm not in ("frame", "global"):
            raise ValueError("norm must be 'frame' or 'global'")
        if len(self.channels) != len(self.kernels) or self.n_bins % 12:
            raise ValueError("channels and kernels need one entry per stage; n_bins a multiple of 12")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ChromaNetConfig":
        data = dict(data)
        data["hcqt"] = HCQTConfig(**data.get("hcqt", {}))
        data["channels"] = tuple(data["channels"])
        data["kernels"] = tuple(data["kernels"])
        return cls(**data)


class _Norm(nn.Module):
    """LayerNorm over (bins, channels) per frame (affine) or over (C, bins, T) per example."""

    def __init__(self, kind: str, n_bins: int, channels: int):
        super().__init__()
        self.kind = kind
        if kind == "frame":
            self.weight = nn.Parameter(torch.ones(n_bins, channels))
            self.bias = nn.Parameter(torch.zeros(n_bins, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, F, T)
        if self.kind == "global":
            return F.layer_norm(x, x.shape[1:], eps=1e-5)
        y = x.permute(0, 3, 2, 1)  # (B, T, F, C)
        y = F.layer_norm(y, y.shape[2:], self.weight, self.bias, eps=1e-5)
        return y.permute(0, 3, 2, 1)


class _Downsample(nn.Module):
    def __init__(self, kind: str, n_bins: int, c_in: int, c_out: int):
        super().__init__()
        self.norm = _Norm(kind, n_bins, c_in)
        self.conv = nn.Conv2d(c_in, c_out, kernel_size=(1, 2), stride=(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.conv(self.norm(x)))


class _ConvNeXt(nn.Module):
    def __init__(self, kind: str, n_bins: int, channels: int, kernel: int, drop_path: float):
        super().__init__()
        self.dwconv = nn.Conv2d(channels, channels, kernel, padding=kernel // 2, groups=channels,
                                padding_mode="replicate")
        self.norm = _Norm(kind, n_bins, channels)
        self.pwconv1 = nn.Linear(channels, 4 * channels)
        self.pwconv2 = nn.Linear(4 * channels, channels)
        self.gamma = nn.Parameter(torch.full((channels,), 1e-6))
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x)).permute(0, 2, 3, 1)  # (B, F, T, C)
        y = (self.pwconv2(F.gelu(self.pwconv1(y))) * self.gamma).permute(0, 3, 1, 2)
        if self.training and self.drop_path > 0:
            keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= self.drop_path
            y = y * keep / (1.0 - self.drop_path)
        return x + y


class ChromaNet(nn.Module):
    """Log CQT (B, 1, n_bins, T) -> logits (B, num_classes)."""

    def __init__(self, config: ChromaNetConfig = ChromaNetConfig()):
        super().__init__()
        self.config = config
        c_in = 1
        self.time_downsampling_blocks = nn.ModuleList()
        self.convnext_blocks = nn.ModuleList()
        for c_out, k in zip(config.channels, config.kernels):
            self.time_downsampling_blocks.append(_Downsample(config.norm, config.n_bins, c_in, c_out))
            self.convnext_blocks.append(_ConvNeXt(config.norm, config.n_bins, c_out, k, config.drop_path))
            c_in = c_out
        self.classifier = nn.Conv2d(c_in, config.num_classes // 12, kernel_size=1)
        if config.num_classes == 24:
            self.batch_norm = nn.BatchNorm2d(2, affine=False)

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of every block, in order (downsample 0, convnext 0, downsample 1, ...)."""
        out = []
        for down, block in zip(self.time_downsampling_blocks, self.convnext_blocks):
            x = down(x)
            out.append(x)
            x = block(x)
            out.append(x)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(x)[-1]
        b, c, f, t = x.shape
        x = x.reshape(b, c, f // 12, 12, t).mean(dim=2)  # octave-equivalent pooling
        x = self.classifier(x.mean(dim=3, keepdim=True))  # (B, 1 or 2, 12, 1)
        if self.config.num_classes == 24:
            x = self.batch_norm(x)
        return x.flatten(1)


class KeyModel(nn.Module):
    """Front end + ChromaNet: waveform segments (B, 1, S) at 22.05 kHz -> logits.

    State-dict keys: ``hcqt.*`` and ``chromanet.*``, as in STONE's checkpoints.
    """

    def __init__(self, config: ChromaNetConfig = ChromaNetConfig()):
        super().__init__()
        self.config = config
        self.hcqt = HarmonicCQT(config.hcqt)
        self.chromanet = ChromaNet(config)

    def features(self, segments: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Network input: log CQT bins ``offset .. offset + n_bins`` (offset > 0 shifts pitch down)."""
        return self.hcqt(segments)[:, :, offset:offset + self.config.n_bins]

    def forward(self, segments: torch.Tensor) -> torch.Tensor:
        return self.chromanet(self.features(segments))

    def probabilities(self, segments: torch.Tensor) -> torch.Tensor:
        """Softmax of logits / temperature, (B, num_classes)."""
        return torch.softmax(self(segments) / self.config.temperature, dim=1)
