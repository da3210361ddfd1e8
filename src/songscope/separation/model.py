"""Waveform-to-waveform separation models and their checkpoint files.

``SeparationModel`` wraps a spectrogram network (Band-Split RNN or a U-Net) between an STFT
and an inverse STFT: (B, C, N) mixture samples -> (B, S, C, N) target samples, S = targets.

Checkpoint file (``torch.save``): ``{"format": FORMAT, "family": "bsrnn"|"unet",
"config": {...}, "state_dict": {...}, ...extra}``. Training checkpoints of the shared loop
(``last.pt`` / ``best.pt``) load too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..atomic import atomic_path
from ..errors import InputError
from .bsrnn import BandSplitRNN, BSRNNConfig
from .stft import Spectrogram
from .unet import SpectrogramUNet, UNetConfig

__all__ = ["FAMILIES", "FORMAT", "SeparationModel", "build_model", "save_separation_model",
           "load_separation_model", "DEFAULT_WINDOW_SECONDS"]

FORMAT = "songscope-separation/1"
#: Chunk length used at inference unless the checkpoint says otherwise (seconds).
DEFAULT_WINDOW_SECONDS = 8.0
FAMILIES: dict[str, tuple[type, type]] = {"bsrnn": (BSRNNConfig, BandSplitRNN), "unet": (UNetConfig, SpectrogramUNet)}


class SeparationModel(nn.Module):
    """STFT -> spectrogram network -> iSTFT.

    Attributes:
        family: "bsrnn" or "unet". config: the network's config dataclass.
        targets: stem names in output order. sample_rate: Hz. channels: audio channels.
    """

    def __init__(self, family: str, config: Any):
        super().__init__()
        if family not in FAMILIES:
            raise InputError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")
        self.family, self.config = family, config
        self.net = FAMILIES[family][1](config)
        self.stft = Spectrogram(config.n_fft, config.hop)

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(self.config.targets)

    @property
    def sample_rate(self) -> int:
        return int(self.config.sample_rate)

    @property
    def channels(self) -> int:
        return int(self.config.channels)

    def required_window(self) -> int | None:
        """Samples per chunk the network needs (fixed-chunk checkpoints), else None."""
        frames = getattr(self.config, "chunk_frames", None)
        return None if frames is None else (frames - 1) * self.config.hop

    def estimate_spectrograms(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, N) -> mixture spectrogram (B, C, F, T) and target spectrograms (B, S, C, F, T)."""
        spec = self.stft(wave)
        return spec, self.net(spec)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, C, N) float -> (B, S, C, N) float."""
        _, estimates = self.estimate_spectrograms(wave)
        return self.stft.inverse(estimates, wave.shape[-1])


def build_model(family: str, config: dict[str, Any] | Any) -> SeparationModel:
    """A fresh model of ``family`` from a config dataclass or a dict of its fields."""
    if family not in FAMILIES:
        raise InputError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")
    config_type = FAMILIES[family][0]
    if isinstance(config, dict):
        unknown = set(config) - set(config_type.__dataclass_fields__)
        if unknown:
            raise InputError(f"unknown {family} settings: {', '.join(sorted(unknown))}")
        try:
            config = config_type(**config)
        except ValueError as exc:
            raise InputError(f"{family} config: {exc}") from None
    return SeparationModel(family, config)


def save_separation_model(model: SeparationModel, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` as a songscope separation checkpoint (atomically); returns the path."""
    payload = {"format": FORMAT, "family": model.family, "config": model.config.to_dict(),
               "state_dict": {k: v.detach().cpu() for k, v in model.net.state_dict().items()}, **(extra or {})}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def _from_payload(payload: dict[str, Any], source: Path) -> SeparationModel:
    if payload.get("format") == FORMAT:
        model = build_model(payload["family"], payload["config"])
        model.net.load_state_dict(payload["state_dict"])
        return model
    if "separation" in payload and "model" in payload:  # a training checkpoint (last.pt / best.pt)
        model = build_model(payload["separation"]["family"], payload["separation"]["config"])
        model.load_state_dict(payload["model"])
        return model
    raise InputError(f"{source}: not a songscope separation checkpoint")


def load_separation_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> SeparationModel:
    """Load a separation model: a registry name, a songscope checkpoint, a training
    checkpoint, or a Lightning ``.ckpt`` of the public BSRNN implementation (with its
    ``hparams.yaml`` beside it or in the parent folder). Returns it in eval mode on ``device``.

    Raises:
        InputError: missing or unreadable file, or a file of another kind.
    """
    from ..models.checkpoints import resolve_checkpoint
    from .lightning import is_lightning_checkpoint, load_lightning_bsrnn

    path, _ = resolve_checkpoint(name_or_path, tuple(FAMILIES))
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a bad file
        raise InputError(f"{path}: cannot read checkpoint ({type(exc).__name__})") from None
    if not isinstance(payload, dict):
        raise InputError(f"{path}: not a separation checkpoint")
    model = load_lightning_bsrnn(path, payload) if is_lightning_checkpoint(payload) else _from_payload(payload, path)
    model.window_seconds = float(payload.get("window_seconds", DEFAULT_WINDOW_SECONDS))
    return model.to(device).eval()
