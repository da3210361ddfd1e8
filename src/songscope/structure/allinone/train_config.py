"""Settings of an All-In-One training run, readable without torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...errors import CheckpointError, ConfigError
from ...train.augment import MasteringChain
from ...train.config import TrainConfig, build_config, read_config_file
from .config import AllInOneConfig

__all__ = ["LOSSES", "StructureTrainConfig"]

#: The four losses (and their default weights): BCE on beats, downbeats and boundaries, CE on functions.
LOSSES = {"beat": 1.0, "downbeat": 1.0, "section": 1.0, "function": 1.0}


@dataclass
class StructureTrainConfig:
    """What to train on and how (``train`` holds the shared optimisation settings).

    Attributes:
        data: a Harmonix Set folder, a ``songscope synth`` corpus or a folder of audio + JAMS.
        family: the family trained (``allinone``).
        model: :class:`~songscope.structure.allinone.config.AllInOneConfig` settings (depth, ...).
        demix: where stems come from: ``"reference"`` (the corpus's own stems where it has them,
            else ``classic``), ``"classic"`` or any separation model name / checkpoint.
        spec_dir: cache of stems and spectrograms (default ``<train.out_dir>/spec_cache``).
        fold: the validation fold, ``0 .. num_folds - 1``, or ``"all"``: train every fold, then
            write the ensemble of the fold models. num_folds: folds, split by track.
        segment_seconds: training crop length (s). batch_size: crops per step.
        epochs: when set, ``train.steps = epochs x ceil(training tracks / batch_size)`` and a
            validation after every epoch (``train.val_every``).
        loss_weights: weight per loss (:data:`LOSSES`).
        augment: :class:`~songscope.train.augment.MasteringChain` settings (``probability = 0``: off).
        threads: torch CPU threads (None: torch's default; 1 is fastest on a busy machine).
    """

    data: str = ""
    family: str = "allinone"
    model: dict = field(default_factory=dict)
    demix: str = "classic"
    spec_dir: str | None = None
    fold: int | str = 0
    num_folds: int = 8
    segment_seconds: float = 10.0
    batch_size: int = 4
    epochs: int | None = None
    loss_weights: dict = field(default_factory=lambda: dict(LOSSES))
    augment: dict = field(default_factory=dict)
    threads: int | None = None
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.family != "allinone":
            raise ConfigError(f"structure training trains the 'allinone' family, not {self.family!r}")
        if self.num_folds < 2:
            raise ConfigError("num_folds must be at least 2 (one fold validates)")
        if self.fold != "all" and (not isinstance(self.fold, int) or not 0 <= self.fold < self.num_folds):
            raise ConfigError(f"fold must be 0 .. {self.num_folds - 1} or 'all', not {self.fold!r}")
        if self.segment_seconds < 1.0 or self.batch_size < 1 or (self.epochs is not None and self.epochs < 1) \
                or (self.threads is not None and self.threads < 1):
            raise ConfigError("segment_seconds must be at least 1, batch_size, epochs and threads at least 1")
        unknown = set(self.loss_weights) - set(LOSSES)
        if unknown:
            raise ConfigError(f"unknown loss {sorted(unknown)[0]!r}; losses: {', '.join(LOSSES)}")
        try:
            self.network()
        except CheckpointError as exc:
            raise ConfigError(str(exc)) from None
        self.chain()

    @classmethod
    def load(cls, path: str | Path) -> "StructureTrainConfig":
        """Read a TOML/JSON/YAML config; ``data``, ``spec_dir`` and ``train.out_dir`` are relative to the file.

        Raises:
            ConfigError: a missing file or any bad setting, in one line.
        """
        return build_config(cls, read_config_file(path, ("data", "spec_dir")), path)

    def network(self) -> AllInOneConfig:
        """The architecture trained (allin1's defaults overridden by ``model``)."""
        unknown = set(self.model) - set(AllInOneConfig.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"[model]: unknown setting {sorted(unknown)[0]!r}")
        return AllInOneConfig.from_dict(self.model)

    def chain(self) -> MasteringChain:
        """The augmentation chain."""
        return build_config(MasteringChain, {k: tuple(v) if isinstance(v, list) else v
                                             for k, v in self.augment.items()}, "[augment]")
