"""Waveform-to-waveform separation models and their checkpoints.

``SeparationModel`` wraps a spectrogram network (Band-Split RNN, a light U-Net, or one of
Auralflow's three mask networks) between an STFT and an inverse STFT: (B, C, N) mixture samples
-> (B, S, C, N) target samples, S = targets. Checkpoints are songscope's container (family
``bsrnn``, ``unet``, ``auralflow-simple``, ``auralflow-lstm`` or ``auralflow-vae``, the network's settings,
the model's state dict, ``window_seconds`` in the metadata); training checkpoints of the shared
loop (``last.pt`` / ``best.pt``) are containers too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, ConfigError
from ..models.container import Checkpoint, save_checkpoint
from .auralflow import AuralflowConfig, AuralflowLSTM, AuralflowSimple, AuralflowVAE
from .bsrnn import BandSplitRNN, BSRNNConfig
from .stft import Spectrogram
from .unet import SpectrogramUNet, UNetConfig

__all__ = ["FAMILIES", "SeparationModel", "build_model", "save_separation_model", "separation_model_from_checkpoint",
           "load_separation_model", "DEFAULT_WINDOW_SECONDS"]

#: Chunk length used at inference unless the checkpoint says otherwise (seconds).
DEFAULT_WINDOW_SECONDS = 8.0
FAMILIES: dict[str, tuple[type, type]] = {"bsrnn": (BSRNNConfig, BandSplitRNN), "unet": (UNetConfig, SpectrogramUNet),
                                          "auralflow-simple": (AuralflowConfig, AuralflowSimple),
                                          "auralflow-lstm": (AuralflowConfig, AuralflowLSTM),
                                          "auralflow-vae": (AuralflowConfig, AuralflowVAE)}


class SeparationModel(nn.Module):
    """STFT -> spectrogram network -> iSTFT.

    Attributes:
        family: a key of :data:`FAMILIES`. config: the network's config dataclass.
        targets: stem names in output order. sample_rate: Hz. channels: audio channels.
        window_seconds: chunk length for inference (s), as the checkpoint says.
    """

    def __init__(self, family: str, config: Any):
        super().__init__()
        if family not in FAMILIES:
            raise ConfigError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")
        self.family, self.config = family, config
        self.window_seconds = DEFAULT_WINDOW_SECONDS
        self.net = FAMILIES[family][1](config)
        self.stft = Spectrogram(config.n_fft, config.hop, getattr(config, "window", None))

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
    """A fresh model of ``family`` from a config dataclass or a dict of its fields.

    Raises:
        ConfigError: unknown family or settings, or values the network refuses.
    """
    if family not in FAMILIES:
        raise ConfigError(f"unknown separation family {family!r}; known: {', '.join(FAMILIES)}")
    config_type = FAMILIES[family][0]
    if isinstance(config, dict):
        unknown = set(config) - set(config_type.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown {family} settings: {', '.join(sorted(unknown))}")
        try:
            config = config_type(**config)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{family} config: {exc}") from None
    return SeparationModel(family, config)


def save_separation_model(model: SeparationModel, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``model`` as a checkpoint container (atomically); ``metadata`` may hold
    ``window_seconds``, the inference chunk length. Returns the path."""
    return save_checkpoint(Checkpoint(model.family, model.config.to_dict(), model.state_dict(),
                                      metadata=dict(metadata or {})), path)


def separation_model_from_checkpoint(checkpoint: Checkpoint) -> SeparationModel:
    """The model a container holds, in eval mode on the CPU, with ``window_seconds`` set.

    Raises:
        CheckpointError: weights that do not fit the stored settings.
    """
    model = build_model(checkpoint.family, checkpoint.config)
    try:
        model.load_state_dict(checkpoint.state_dict)
    except RuntimeError as exc:
        lines = str(exc).strip().splitlines()
        raise CheckpointError(f"{checkpoint.source}: weights do not match the stored settings "
                              f"({lines[1].strip() if len(lines) > 1 else lines[0]})") from None
    model.window_seconds = float(checkpoint.metadata.get("window_seconds", DEFAULT_WINDOW_SECONDS))
    return model.eval()


def load_separation_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> SeparationModel:
    """Load a separation model by catalog name or path (a container, a training checkpoint, a
    Lightning ``.ckpt`` of the public BSRNN code, ...) through the model registry; eval mode on
    ``device``.

    Raises:
        ConfigError / CheckpointError: unknown name, unreadable or foreign file, a model of another task.
    """
    from ..models.registry import resolve

    _, checkpoint = resolve("separation", str(name_or_path))
    if checkpoint is None:
        raise ConfigError(f"{name_or_path}: not a neural separation model")
    return separation_model_from_checkpoint(checkpoint).to(device)
