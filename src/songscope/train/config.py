"""Training settings shared by every family, and reading them from TOML / JSON files.

Nothing here imports torch, so a command can check a config file before any model loads.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, TypeVar

from ..errors import ConfigError

__all__ = ["OPTIMIZERS", "SCHEDULES", "TrainConfig", "build_config", "read_config_file", "read_settings", "read_yaml"]

#: Optimisers a config can choose.
OPTIMIZERS = ("adamw", "adam", "sgd")
#: Learning-rate schedules after the warm-up.
SCHEDULES = ("cosine", "exponential", "constant")

T = TypeVar("T")


@dataclass
class TrainConfig:
    """Optimisation settings shared by every family.

    Attributes:
        steps: optimisation steps in total (each ``accumulate`` batches).
        lr: peak learning rate; warmup: linear warm-up steps; then ``schedule``: ``cosine`` (to
            lr / 100 at the last step), ``exponential`` (times ``lr_decay`` every ``decay_every``
            steps, never below ``min_lr``, after ``hold`` steps at the peak rate) or ``constant``.
        optimizer: ``adamw`` (default), ``adam`` or ``sgd`` (with ``momentum``).
        betas: Adam's (beta1, beta2). momentum: SGD momentum. weight_decay: decoupled (AdamW) or L2.
        accumulate: batches whose gradients add up to one step (a larger effective batch).
        grad_clip: max gradient norm (None: off).
        val_every: steps between validations (and checkpoints). log_every: steps between log rows.
        patience: validations without improvement before stopping (None: never stop early).
        workers: DataLoader worker processes reading training batches (0: in the main process).
        seed: seeds Python, NumPy and torch. device: cpu/cuda/mps (None: best available).
        amp: mixed precision (CUDA only). out_dir: run folder. resume: continue from last.pt.
    """

    steps: int = 1000
    lr: float = 1e-3
    warmup: int = 50
    schedule: str = "cosine"
    lr_decay: float = 0.99
    decay_every: int = 100
    hold: int = 0
    min_lr: float = 0.0
    optimizer: str = "adamw"
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    weight_decay: float = 0.01
    accumulate: int = 1
    grad_clip: float | None = 1.0
    val_every: int = 100
    log_every: int = 10
    patience: int | None = None
    workers: int = 0
    seed: int = 0
    device: str | None = None
    amp: bool = False
    out_dir: str = "runs/train"
    resume: bool = True

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if not 0 < self.lr_decay <= 1 or self.min_lr < 0:
            raise ConfigError("lr_decay must be in (0, 1] and min_lr not negative")
        for name in ("steps", "val_every", "log_every", "accumulate", "decay_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.lr < 0 or self.warmup < 0 or self.hold < 0 or self.workers < 0 or len(self.betas) != 2:
            raise ConfigError("lr, warmup, hold and workers must not be negative; betas are two numbers")


def _matches(value: Any, hint: Any) -> bool:
    """Whether a value read from a config file fits a field's type annotation."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            return False
        if not args:
            return True
        if origin is list or (len(args) == 2 and args[1] is Ellipsis):
            return all(_matches(v, args[0]) for v in value)
        return len(args) == len(value) and all(_matches(v, a) for v, a in zip(value, args))
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return isinstance(value, origin or hint)


def build_config(cls: type[T], data: Mapping[str, Any], source: object = "config") -> T:
    """``cls(**data)`` for a config dataclass, with every mistake as one :class:`ConfigError`
    naming the source: unknown keys, values of the wrong type, values the class refuses."""
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ConfigError(f"{source}: unknown setting {unknown[0]!r} (known: {', '.join(sorted(fields))})")
    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        if not _matches(value, hints[name]):
            raise ConfigError(f"{source}: {name} = {value!r} is not a {getattr(hints[name], '__name__', hints[name])}")
    try:
        return cls(**data)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping a YAML file holds (empty for an empty file).

    Raises:
        ConfigError: missing file, no PyYAML, a YAML syntax error, or not a mapping (one line each).
    """
    path = Path(path)
    try:
        import yaml
    except ImportError:
        raise ConfigError(f"{path}: reading YAML needs PyYAML: pip install 'songscope[neural]'") from None
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: not valid YAML ({first})") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    return data or {}


def read_settings(path: str | Path) -> dict[str, Any]:
    """The mapping a TOML, JSON or YAML (``.yaml`` / ``.yml``, CoverHunterMPS's ``hparams.yaml``)
    settings file holds, as written (an empty YAML file is an empty mapping).

    Raises:
        ConfigError: missing file, no PyYAML for a YAML file, a syntax error, or not a mapping.
    """
    path = Path(path)
    if path.suffix in (".yaml", ".yml"):
        return read_yaml(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                import tomli as tomllib
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of settings")
    return data


def read_config_file(path: str | Path, path_keys: tuple[str, ...]) -> dict[str, Any]:
    """The settings of a TOML, JSON or YAML file, with relative paths made absolute.

    Paths under ``path_keys`` and ``train.out_dir`` are taken relative to the file's folder;
    the ``[train]`` table becomes a :class:`TrainConfig` under ``"train"``.

    Raises:
        ConfigError: missing file, syntax error, a bad training setting.
    """
    path = Path(path)
    data = read_settings(path)
    train = data.get("train", {})
    if not isinstance(train, dict):
        raise ConfigError(f"{path}: 'train' must be a table of settings")
    train = dict(train)
    base = path.resolve().parent
    for name in path_keys:
        if isinstance(data.get(name), str) and data[name]:
            data[name] = str((base / data[name]).resolve())
    if isinstance(train.get("out_dir"), str):
        train["out_dir"] = str((base / train["out_dir"]).resolve())
    data["train"] = build_config(TrainConfig, train, f"{path} [train]")
    return data
