"""Settings of a key-model training run (STONE / 24-STONE), readable without torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..train.config import TrainConfig, build_config, read_config_file

__all__ = ["KeyTrainConfig", "MIN_WINDOW_SECONDS", "MODES"]

MODES = ("selfsupervised", "supervised", "mixed")

MIN_WINDOW_SECONDS = 3.0
"""Shortest input the ChromaNet's time pooling accepts (with 15 s windows and the default
front end, 2.5 s fails); shorter clips are repeated up to it."""


@dataclass
class KeyTrainConfig:
    """What to train on and how (``train`` holds the shared optimisation settings).

    Attributes:
        data: folder of training audio. labels: optional ``path,key`` CSV. validation: folder.
        mode: ``selfsupervised`` (STONE, 12 outputs), ``supervised`` or ``mixed`` (24-STONE).
        crop_seconds: training crop length (s). batch_size: crops per step.
        max_shift: largest random transposition (CQT bins). circle: DFT projection of the CPSD loss.
        channels, kernels: ChromaNet stage widths and depthwise kernel sizes.
        reference, reference_key: calibration recording and its key (default: a synthetic song).
        cache: folder of the decoded training audio (default ``<train.out_dir>/audio_cache``).
        family: the model family trained (``stone``).
    """

    data: str
    labels: str | None = None
    validation: str | None = None
    mode: str = "selfsupervised"
    crop_seconds: float = 15.0
    batch_size: int = 8
    max_shift: int = 12
    circle: int = 7
    channels: tuple[int, ...] = (2, 3, 40, 40, 30, 10, 3)
    kernels: tuple[int, ...] = (7, 7, 7, 7, 7, 5, 5)
    reference: str | None = None
    reference_key: str = "C major"
    cache: str | None = None
    family: str = "stone"
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        self.channels, self.kernels = tuple(self.channels), tuple(self.kernels)
        if self.family != "stone":
            raise ConfigError(f"key training trains the 'stone' family, not {self.family!r}")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}")
        if self.mode != "selfsupervised" and not self.labels:
            raise ConfigError(f"mode {self.mode!r} needs a labels CSV")
        if self.crop_seconds < MIN_WINDOW_SECONDS:
            raise ConfigError(f"crop_seconds must be at least {MIN_WINDOW_SECONDS:g} (the network's time pooling)")
        if not 0 <= self.max_shift <= 15:
            raise ConfigError("max_shift must be between 0 and 15 bins (the front end computes 15 spare bins)")
        if self.batch_size < 1:
            raise ConfigError("batch_size must be at least 1")
        if not self.channels or len(self.channels) != len(self.kernels) or min(self.channels + self.kernels) < 1:
            raise ConfigError("channels and kernels need one positive entry per stage each")

    @classmethod
    def load(cls, path: str | Path) -> "KeyTrainConfig":
        """Read a JSON or TOML config file; its ``[train]`` table feeds :class:`TrainConfig`.
        Relative paths in the file are relative to the file's folder.

        Raises:
            ConfigError: a missing file or any bad setting, in one line.
        """
        data = read_config_file(path, ("data", "labels", "validation", "reference", "cache"))
        return build_config(cls, data, path)

    @property
    def num_classes(self) -> int:
        return 12 if self.mode == "selfsupervised" else 24
