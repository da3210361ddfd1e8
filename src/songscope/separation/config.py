"""Settings of a separation training run, readable without torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..train.config import TrainConfig, build_config, read_config_file

__all__ = ["LOSSES", "SeparationTrainConfig"]

#: Loss names a config may weight (see :mod:`songscope.separation.losses`).
LOSSES = ("l1", "l2", "si_sdr", "spec_l1", "component", "mrstft", "kl")
_FAMILIES = ("bsrnn", "unet", "auralflow-simple", "auralflow-lstm", "auralflow-vae")


@dataclass
class SeparationTrainConfig:
    """What to train and on what (``train`` holds the shared optimisation settings).

    Attributes:
        family: "bsrnn", "unet" or "auralflow-{simple,lstm,vae}". model: settings of the family's config dataclass.
        data: MUSDB-style root. train_split / validation_split: subfolders of ``data``
            (validation None: use training tracks). chunk_seconds: training chunk length
            (models built for a fixed chunk, such as Auralflow's, train on that chunk instead).
        batch_size: examples per step. loss: loss name -> weight (see :data:`LOSSES`).
        loss_truncation: fraction of the worst examples left out per batch.
        augment: :class:`~songscope.separation.data.AugmentConfig` settings.
        validation_chunks: fixed validation chunks.
        window_seconds: inference chunk length stored in the exported model.
    """

    family: str
    data: str
    model: dict = field(default_factory=dict)
    train_split: str | None = "train"
    validation_split: str | None = "test"
    chunk_seconds: float = 3.0
    batch_size: int = 4
    loss: dict = field(default_factory=lambda: {"l1": 1.0, "spec_l1": 1.0})
    loss_truncation: float = 0.0
    augment: dict = field(default_factory=dict)
    validation_chunks: int = 16
    window_seconds: float = 8.0
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.family not in _FAMILIES:
            raise ConfigError(f"family must be one of {', '.join(_FAMILIES)}, not {self.family!r}")
        unknown = set(self.loss) - set(LOSSES)
        if unknown:
            raise ConfigError(f"unknown loss {sorted(unknown)[0]!r}; known: {', '.join(LOSSES)}")
        if not 0.0 <= self.loss_truncation < 1.0:
            raise ConfigError("loss_truncation must be in [0, 1)")
        if self.chunk_seconds <= 0.2:
            raise ConfigError("chunk_seconds must be above 0.2")
        if self.batch_size < 1 or self.validation_chunks < 1 or self.window_seconds < 0.5:
            raise ConfigError("batch_size and validation_chunks must be at least 1, window_seconds at least 0.5")

    @classmethod
    def load(cls, path: str | Path) -> "SeparationTrainConfig":
        """Read a TOML/JSON config; ``data`` and ``train.out_dir`` are relative to the file.

        Raises:
            ConfigError: a missing file or any bad setting, in one line.
        """
        return build_config(cls, read_config_file(path, ("data",)), path)
