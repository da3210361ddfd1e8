"""Settings of a CoverHunter training run, readable without torch.

A config file is CoverHunterMPS's training ``hparams.yaml`` as it is (or the same keys in TOML /
JSON), with an optional ``train`` table of songscope's own loop settings (``out_dir``,
``device``, ``steps``, ``val_every``, ``log_every``, ``decay_every``, ``accumulate``,
``grad_clip``, ``amp``). The hparams keys that mean the same thing set the loop
(:func:`loop_settings`): ``learning_rate``, ``adam_b1`` / ``adam_b2``, ``optimizer``,
``weight_decay``, ``lr_decay`` and ``min_lr`` (an exponential schedule: times ``lr_decay`` every
1000 steps after ``hold_steps``, as their trainer steps its scheduler every 1000 steps),
``warmup`` / ``warmup_steps``, ``early_stopping_patience`` (in epochs), ``seed``,
``num_workers``, and ``max_epochs`` / ``every_n_epoch_to_dev`` (else ``every_n_epoch_to_test``)
counted in steps of the training list (:func:`steps_per_epoch`); giving one of those in the
``train`` table as well is an error, so each setting has one place.

Relative paths (``train_path``, ``val_path``, ``test_path``, test sets' ``query_path``,
``ref_path`` and ``query_in_ref_path``, ``train.out_dir``) are taken from the file's folder when
they exist there, else from the working folder (CoverHunterMPS's convention). Without
``train.out_dir`` a YAML file's run goes to its model folder (the parent of ``config/``, their
layout), a TOML / JSON file's to ``runs/train``. The ``device`` key names CoverHunterMPS's
hardware and is not read: the ``train`` table, ``--device`` or the best available device is used.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import ConfigError, InputError
from ..train.config import TrainConfig, build_config, read_settings
from .config import CoverHunterConfig

__all__ = ["CoverHunterTrainConfig", "SpecAugment", "check_hparams", "loop_settings", "spec_augment",
           "steps_per_epoch"]

#: CoverHunterMPS's trainer steps its learning-rate scheduler every 1000 training steps.
DECAY_EVERY = 1000
_DEFAULT_EPOCHS, _DEFAULT_PATIENCE, _LOG_EVERY = 100, 20, 100
#: Loop settings an hparams key already sets (the key to use instead).
_FROM_HPARAMS = {"lr": "learning_rate", "betas": "adam_b1 and adam_b2", "optimizer": "optimizer",
                 "weight_decay": "weight_decay", "lr_decay": "lr_decay", "min_lr": "min_lr", "hold": "hold_steps",
                 "warmup": "warmup and warmup_steps", "patience": "early_stopping_patience", "seed": "seed",
                 "workers": "num_workers"}
_PATH_KEYS = ("train_path", "val_path", "test_path", "train_sample_path", "dev_path")
_TESTSET_PATH_KEYS = ("query_path", "ref_path", "query_in_ref_path")


@dataclass(frozen=True)
class SpecAugment:
    """``spec_augmentation``: ``roll_pitch`` (with probability ``roll_prob``, rotate the bins by
    -``shift_num``, 0 or +``shift_num``, wrapping around: their ``default`` method; songscope's
    ``uniform`` method rotates by any whole number of bins from -``shift_num`` to +``shift_num``,
    e.g. 6 for every transposition with 12 bins per octave), ``random_erase`` (with probability
    ``erase_prob``, ``erase_num`` blocks of ``region_size`` = (time, frequency) fractions of the
    chunk set to one random level in [-128, 0) dB) and songscope's ``time_stretch`` (with
    probability ``stretch_prob``, a chunk read from ``r`` times as many frames and resampled to
    the chunk's length, ``r`` log-uniform in ``stretch_range``: a tempo change of 1 / ``r``)."""

    roll_prob: float = 0.0
    shift_num: int = 12
    erase_prob: float = 0.0
    erase_num: int = 4
    region_size: tuple[float, float] = (0.25, 0.1)
    roll_method: str = "default"
    stretch_prob: float = 0.0
    stretch_range: tuple[float, float] = (1.0, 1.0)


def spec_augment(settings: Mapping[str, Any]) -> SpecAugment:
    """:class:`SpecAugment` from an hparams ``spec_augmentation`` mapping.

    Raises:
        ConfigError: an unknown section or key, a ``roll_pitch`` method other than ``default``
            (``low_melody`` and ``flex_melody`` are not implemented), values out of range.
    """
    unknown = set(settings) - {"roll_pitch", "random_erase", "time_stretch"}
    if unknown:
        raise ConfigError(f"spec_augmentation: unknown section {sorted(unknown)[0]!r} "
                          "(known: random_erase, roll_pitch, time_stretch)")
    roll = dict(settings.get("roll_pitch") or {})
    erase = dict(settings.get("random_erase") or {})
    stretch = dict(settings.get("time_stretch") or {})
    method = roll.pop("method", "default")
    if method not in ("default", "uniform"):
        raise ConfigError(f"spec_augmentation.roll_pitch.method {method!r} is not supported; songscope has "
                          "'default' (CoverHunter's rotation) and 'uniform'")
    values = {"roll_prob": roll.pop("prob", 0.0), "shift_num": roll.pop("shift_num", 12), "roll_method": method,
              "erase_prob": erase.pop("prob", 0.0), "erase_num": erase.pop("erase_num", 4),
              "region_size": tuple(erase.pop("region_size", (0.25, 0.1))),
              "stretch_prob": stretch.pop("prob", 0.0), "stretch_range": tuple(stretch.pop("range", (1.0, 1.0)))}
    if roll or erase or stretch:
        raise ConfigError(f"spec_augmentation: unknown setting {sorted({**roll, **erase, **stretch})[0]!r}")
    aug = build_config(SpecAugment, values, "spec_augmentation")
    if not (0 <= aug.roll_prob <= 1 and 0 <= aug.erase_prob <= 1 and 0 <= aug.stretch_prob <= 1
            and aug.shift_num >= 0 and aug.erase_num >= 0
            and len(aug.region_size) == 2 and all(0 <= f <= 1 for f in aug.region_size)):
        raise ConfigError("spec_augmentation: probabilities and region_size fractions must be in [0, 1], "
                          "shift_num and erase_num not negative")
    if not (len(aug.stretch_range) == 2 and 0 < aug.stretch_range[0] <= aug.stretch_range[1]):
        raise ConfigError("spec_augmentation.time_stretch.range must be [low, high] with 0 < low <= high")
    return aug


def steps_per_epoch(work_ids: Sequence[int], config: CoverHunterConfig) -> int:
    """Training steps in one of CoverHunterMPS's epochs over a list whose lines have these works.

    Their sampler repeats a work's lines until it has at least ``m_per_class``, counts them all,
    and cuts the count to whole batches; an epoch reads that many batches from each of the
    ``chunk_frame`` lengths (one step per batch).

    Raises:
        ConfigError: fewer lines than one batch, or fewer works than a batch needs.
    """
    counts: dict[int, int] = {}
    for work in work_ids:
        counts[work] = counts.get(work, 0) + 1
    m = config.m_per_class
    lines = sum(n * math.ceil(m / n) for n in counts.values())
    if len(counts) * m < config.batch_size:
        raise ConfigError(f"a batch takes batch_size / m_per_class = {config.batch_size // m} works but the "
                          f"training list has {len(counts)}")
    batches = lines // config.batch_size
    if batches < 1:
        raise ConfigError(f"the training list has {lines} lines (works repeated to m_per_class), fewer than "
                          f"batch_size = {config.batch_size}")
    return batches * len(config.chunk_frame)


def loop_settings(hparams: CoverHunterConfig, epoch_steps: int, base: TrainConfig,
                  explicit: Sequence[str] = ()) -> TrainConfig:
    """The loop's settings for ``hparams``: ``base`` with every setting an hparams key gives
    (see the module docstring) replaced, except the ``explicit`` ones the config file's ``train``
    table set (``steps``, ``val_every``, ``log_every``, ``decay_every``, ``schedule``).

    Args:
        epoch_steps: :func:`steps_per_epoch` of the training list.
    """
    every = hparams.every_n_epoch_to_dev or hparams.every_n_epoch_to_test or 1
    derived = {"steps": (hparams.max_epochs or _DEFAULT_EPOCHS) * epoch_steps, "val_every": every * epoch_steps,
               "log_every": min(_LOG_EVERY, epoch_steps), "decay_every": DECAY_EVERY, "schedule": "exponential",
               "lr": hparams.learning_rate, "betas": (hparams.adam_b1, hparams.adam_b2),
               "optimizer": hparams.optimizer,
               "weight_decay": 0.01 if hparams.weight_decay is None else hparams.weight_decay,
               "lr_decay": hparams.lr_decay, "min_lr": hparams.min_lr, "hold": hparams.hold_steps,
               "warmup": hparams.warmup_steps if hparams.warmup else 0,
               "patience": _DEFAULT_PATIENCE if hparams.early_stopping_patience is None
               else hparams.early_stopping_patience,
               "seed": hparams.seed, "workers": hparams.num_workers}
    try:
        return replace(base, **{k: v for k, v in derived.items() if k not in explicit})
    except ConfigError as exc:
        raise ConfigError(f"hparams: {exc}") from None


def _resolve(value: str, base: Path) -> str:
    """A path of the file: from its folder when it exists there, else from the working folder,
    else (to be reported when read) from the file's folder."""
    path = Path(value)
    if path.is_absolute():
        return str(path)
    for candidate in (base / path, Path.cwd() / path):
        if candidate.exists():
            return str(candidate.resolve())
    return str((base / path).resolve())


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    for key in _PATH_KEYS:
        if isinstance(data.get(key), str) and data[key]:
            data[key] = _resolve(data[key], base)
    for value in list(data.values()) + list((data.get("testsets") or {}).values()):
        if isinstance(value, dict) and {"query_path", "ref_path"} <= set(value):
            for key in _TESTSET_PATH_KEYS:
                if isinstance(value.get(key), str) and value[key]:
                    value[key] = _resolve(value[key], base)


@dataclass
class CoverHunterTrainConfig:
    """A CoverHunter training run: the network's and CoverHunterMPS's settings (``hparams``),
    the loop's (``train``), and which ``train`` keys the file set itself (``explicit``; they win
    over values derived from ``hparams`` when a run's loop settings are derived again, as tuning
    and production training do).

    Attributes:
        hparams: :class:`~songscope.covers.config.CoverHunterConfig`.
        train: the loop's settings (:class:`~songscope.train.config.TrainConfig`).
        explicit: keys of the file's ``train`` table.
        family: ``coverhunter``.
    """

    hparams: CoverHunterConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    explicit: tuple[str, ...] = ()
    family: str = "coverhunter"

    def __post_init__(self) -> None:
        if self.family != "coverhunter":
            raise ConfigError(f"covers training trains the 'coverhunter' family, not {self.family!r}")
        check_hparams(self.hparams)

    @property
    def augment(self) -> SpecAugment:
        """The parsed ``spec_augmentation``."""
        return spec_augment(self.hparams.spec_augmentation)

    @classmethod
    def load(cls, path: str | Path) -> "CoverHunterTrainConfig":
        """Read an ``hparams.yaml`` (or TOML / JSON with the same keys), with an optional
        ``train`` table; the loop's steps are counted from ``train_path``.

        Raises:
            ConfigError: a missing file, an unknown key, a bad value, a loop setting given twice,
                or an unreadable training list, in one line.
        """
        path = Path(path)
        data = read_settings(path)
        table = data.pop("train", None) or {}
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: 'train' must be a table of loop settings")
        family = data.pop("family", "coverhunter")
        twice = sorted(set(table) & set(_FROM_HPARAMS))
        if twice:
            raise ConfigError(f"{path}: train.{twice[0]} is set by the hparams key {_FROM_HPARAMS[twice[0]]}; "
                              "give it there only")
        base = path.resolve().parent
        _resolve_paths(data, base)
        hparams = CoverHunterConfig.from_hparams(data, path)
        table = dict(table)
        if isinstance(table.get("out_dir"), str):
            table["out_dir"] = str((base / table["out_dir"]).resolve())
        elif path.suffix in (".yaml", ".yml"):
            table["out_dir"] = str(base.parent if base.name == "config" else base)
        explicit = tuple(table)
        start = build_config(TrainConfig, table, f"{path} [train]")
        if not hparams.train_path:
            raise ConfigError(f"{path}: train_path is required (the train.txt or full.txt to train on)")
        train = loop_settings(hparams, steps_per_epoch(_work_ids(hparams.train_path), hparams), start, explicit)
        return cls(hparams, train, explicit, family)

    def with_hparams(self, values: Mapping[str, Any], source: object = "hparams") -> "CoverHunterTrainConfig":
        """The same run with some hparams keys changed (nested sections merged, None values
        skipped); the loop's settings are derived again except the explicit ones."""
        hparams = CoverHunterConfig.from_hparams(_merge(self.hparams.to_hparams(), values), source)
        train = loop_settings(hparams, steps_per_epoch(_work_ids(hparams.train_path), hparams), self.train,
                              self.explicit)
        return dataclasses.replace(self, hparams=hparams, train=train)


def _work_ids(path: str) -> list[int]:
    """The ``work_id`` of every line of a training list.

    Raises:
        InputError: a missing or malformed list, or a line without ``work_id``.
    """
    from .dataset import read_list

    rows = read_list(path)
    if any("work_id" not in row for row in rows):
        raise InputError(f"{path}: every line needs a work_id (songscope covers features writes it)")
    return [row["work_id"] for row in rows]


def _merge(base: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``values`` laid over it, nested mappings merged key by key; None values are
    skipped (CoverHunterMPS's ``hp_overrides`` semantics)."""
    out = dict(base)
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def check_hparams(hparams: CoverHunterConfig) -> None:
    """What training needs of the hparams beyond what builds the network.

    Raises:
        ConfigError: ``early_stop_metric`` other than ``val_loss``, ``data_type`` other than
            ``cqt``, ``mode`` other than ``random`` / ``defined``, ``batch_size`` not a multiple of
            ``m_per_class``, no validation list, a bad ``spec_augmentation``.
    """
    if hparams.early_stop_metric != "val_loss":
        raise ConfigError(f"early_stop_metric {hparams.early_stop_metric!r} is not supported: songscope stops on and "
                          "keeps the best validation loss ('val_loss')")
    if hparams.data_type != "cqt":
        raise ConfigError(f"data_type {hparams.data_type!r} is not supported (CoverHunter's features are 'cqt')")
    if hparams.mode not in ("random", "defined"):
        raise ConfigError(f"mode must be 'random' or 'defined', not {hparams.mode!r}")
    if hparams.m_per_class < 1 or hparams.batch_size < 1 or hparams.batch_size % hparams.m_per_class:
        raise ConfigError("m_per_class must divide batch_size without any remainder")
    if not (hparams.val_path or hparams.test_path):
        raise ConfigError("val_path (or test_path) is required: its validation loss picks the best epoch")
    spec_augment(hparams.spec_augmentation)
