"""``songscope train``: any trainable family, found through the model registry."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .config import read_config_file

if TYPE_CHECKING:
    from .loop import TrainResult

__all__ = ["train_model"]


def train_model(name: str, config: str | Path, data: str | Path | None = None, out_dir: str | Path | None = None,
                steps: int | None = None, device: str | None = None, restart: bool = False,
                progress: bool = False, tune: str | Path | None = None,
                prod: bool = False, fold: int | str | None = None) -> tuple["TrainResult | None", Path]:
    """Train a model from a config file.

    Args:
        name: a task (``key``, ``separation``, ...; the config's ``family`` says which family, or
            the task has one trainable family) or a trainable family's name.
        config: TOML, JSON or YAML file of the family's training config (paths relative to the file).
        data, out_dir, steps, device: override the config's ``data``, ``train.out_dir``,
            ``train.steps`` and ``train.device``.
        restart: ignore ``last.pt`` in the run folder and start afresh.
        progress: progress bar on stderr.
        tune: a tuning file: run the family's hyper-parameter search instead of one training.
        prod: run the family's production training instead of one training.
        fold: override the config's ``fold`` (a fold index, or ``"all"``: every fold, then their
            ensemble), for families whose config has folds.

    Returns:
        the loop's result and the path of the exported model; with ``tune``, None and the path of
        the search's summary.

    Raises:
        ConfigError: nothing trainable by that name, a family without the requested mode, or a
            bad setting.
    """
    from ..models.registry import trainable_family

    family = trainable_family(name, read_config_file(config, ()))
    if tune is not None and prod:
        raise ConfigError("give --tune or --prod, not both")
    mode = "tune" if tune is not None else "prod" if prod else None
    if mode is not None:
        if getattr(family, mode) is None:
            raise ConfigError(f"family {family.name} has no --{mode} mode")
        if steps is not None or restart:
            raise ConfigError(f"--{mode} counts its own epochs and resumes where it stopped: --steps and --restart "
                              "do not apply (give another --out-dir to start afresh)")
    settings = family.config.load(config)
    if steps is not None and steps < 1:
        raise ConfigError("--steps must be at least 1")
    overrides = {"out_dir": str(out_dir) if out_dir is not None else None, "steps": steps, "device": device}
    settings.train = replace(settings.train, resume=not restart,
                             **{k: v for k, v in overrides.items() if v is not None})
    if data is not None:
        if not hasattr(settings, "data"):
            raise ConfigError(f"{family.name} training reads no 'data' setting")
        settings.data = str(Path(data).resolve())
    if fold is not None:
        if not hasattr(settings, "fold"):
            raise ConfigError(f"{family.name} training has no folds (--fold / --folds)")
        settings.fold = fold
        settings.__post_init__()
    if tune is not None:
        return None, family.tune(settings, Path(tune), progress)
    return (family.prod if prod else family.train)(settings, progress)
