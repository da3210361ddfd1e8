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
          progress: bool = False) -> tuple["TrainResult", Path]:
    """Train a model from a config file.

    Args:
        name: a task (``key``, ``separation``, ...; the config's ``family`` says which family, or
            the task has one trainable family) or a trainable family's name.
        config: TOML or JSON file of the family's training config (paths relative to the file).
        data, out_dir, steps, device: override the config's ``data``, ``train.out_dir``,
            ``train.steps`` and ``train.device``.
        restart: ignore ``last.pt`` in the run folder and start afresh.
        progress: progress bar on stderr.

    Returns:
        the loop's result and the path of the exported model.

    Raises:
        ConfigError: nothing trainable by that name, or a bad setting.
    """
    from ..models.registry import trainable_family

    family = trainable_family(name, read_config_file(config, ()))
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
    return family.train(settings, progress)
