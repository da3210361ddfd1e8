"""The one training loop every songscope model family uses.

A family supplies ``data`` (anything indexable: ``data[i]`` is batch ``i``, the same for the
same ``i`` so a resumed run sees the same batches; it is read through a
``torch.utils.data.DataLoader`` with ``workers`` processes, so batches are read from disk while
the model trains), ``loss(model, batch)`` returning the loss tensor and numbers to log, and
``validate(model)`` returning a dict with at least ``"loss"`` (lower is better). The loop does
the rest: seeding, the optimiser of the config (AdamW by default) with warm-up + cosine learning
rate, gradient accumulation, gradient clipping, mixed precision on CUDA, validation,
``last.pt`` / ``best.pt`` checkpoints (songscope's container, with the optimiser, scheduler and
RNG state), resume, early stopping, ``metrics.csv`` (and TensorBoard when installed), and a
progress bar.
"""

from __future__ import annotations

import csv
import json
import math
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..atomic import atomic_path
from ..errors import ConfigError, TrainingDiverged
from ..models.container import Checkpoint, save_checkpoint
from .config import TrainConfig

__all__ = ["TrainConfig", "TrainResult", "best_state", "lr_schedule", "seed_everything", "train_loop"]


@dataclass
class TrainResult:
    """Where a run ended: last step, best validation loss and its step, checkpoint paths."""

    step: int
    best_loss: float
    best_step: int
    stopped_early: bool
    last_checkpoint: Path
    best_checkpoint: Path


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lr_schedule(config: TrainConfig) -> Callable[[int], float]:
    """The learning-rate factor of each step: linear warm-up, then the config's ``schedule``."""
    floor = config.min_lr / config.lr if config.lr > 0 else 0.0

    def factor(step: int) -> float:
        if step < config.warmup:
            return (step + 1) / max(1, config.warmup)
        after = step - config.warmup
        if config.schedule == "exponential":
            return max(floor, config.lr_decay ** (max(0, after - config.hold) // config.decay_every))
        if config.schedule == "constant":
            return 1.0
        progress = after / max(1, config.steps - config.warmup)
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return factor


def _optimizer(params: list[torch.nn.Parameter], config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return kind(params, lr=config.lr, betas=tuple(config.betas), weight_decay=config.weight_decay)


class _Logger:
    """metrics.csv (one row per logged step, columns grow as new metrics appear) + TensorBoard.

    Rows of an earlier run are kept up to ``resumed_step`` (the step training resumes from), so a
    run resumed from its last checkpoint does not log the steps after that checkpoint twice.
    """

    def __init__(self, folder: Path, resumed_step: int):
        self.path = folder / "metrics.csv"
        self.rows: list[dict[str, Any]] = []
        if self.path.exists():
            with open(self.path, newline="") as handle:
                self.rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= resumed_step]
        try:
            from torch.utils.tensorboard import SummaryWriter
            self.writer = SummaryWriter(str(folder / "tensorboard"))
        except ImportError:
            self.writer = None

    def log(self, step: int, values: dict[str, float]) -> None:
        self.rows.append({"step": step, **{k: f"{v:.6g}" for k, v in values.items()}})
        if self.writer is not None:
            for name, value in values.items():
                self.writer.add_scalar(name, value, step)
        fields = ["step"] + sorted({k for row in self.rows for k in row} - {"step"})
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(self.rows)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class _Indexed(torch.utils.data.Dataset):
    """``data[i]`` as a map-style dataset (the DataLoader's sampler gives the indices)."""

    def __init__(self, data: Any):
        self.data = data

    def __getitem__(self, index: int) -> Any:
        return self.data[index]


def _batches(data: Any, first: int, last: int, workers: int, seed: int) -> Any:
    """Batches ``first .. last - 1`` of ``data`` in order, read by ``workers`` processes (seeded by
    their own generator: the global torch RNG, which training draws from, is left alone)."""
    return iter(torch.utils.data.DataLoader(_Indexed(data), batch_size=None, sampler=range(first, last),
                                            num_workers=workers, prefetch_factor=2 if workers else None,
                                            generator=torch.Generator().manual_seed(seed)))


def best_state(result: TrainResult) -> dict[str, torch.Tensor]:
    """The weights of a run's best checkpoint (what a family exports after training)."""
    from ..models.converters import read_checkpoint

    return read_checkpoint(result.best_checkpoint).state_dict


def train_loop(model: torch.nn.Module, data: Any,
               loss: Callable[[torch.nn.Module, Any], tuple[torch.Tensor, dict[str, float]]],
               validate: Callable[[torch.nn.Module], dict[str, float]], config: TrainConfig,
               family: str, model_config: dict[str, Any], metadata: dict[str, Any] | None = None,
               progress: bool = True,
               snapshot: Callable[[torch.nn.Module, int, Path, Any], None] | None = None) -> TrainResult:
    """Train ``model`` (already on its device); see the module docstring.

    Args:
        model: the family's module; ``model.train()`` / ``model.eval()`` are set here.
        data: ``data[i]`` -> batch ``i`` (moved to the device by ``loss``); step ``s`` reads batches
            ``s * accumulate`` .. ``(s + 1) * accumulate - 1``.
        loss: (model, batch) -> (scalar loss, numbers to log).
        validate: model -> {"loss": ..., other metrics}; run every ``val_every`` steps and at the end.
        config: optimisation settings.
        family, model_config, metadata: what the checkpoints record besides weights (the family
            that reads them, its architecture settings, the run's settings).
        snapshot: called after each validation as ``snapshot(model, step, folder, tensorboard
            writer or None)`` to save media (audio, figures) under ``folder``.

    Returns:
        :class:`TrainResult`.

    Raises:
        ConfigError: ``last.pt`` holds another model (use a new run folder or restart).
        TrainingDiverged: the loss diverged (an :class:`~songscope.errors.InputError`).
    """
    from tqdm import tqdm

    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(json.dumps(asdict(config), indent=2))
    seed_everything(config.seed)
    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = _optimizer(params, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_schedule(config))
    use_amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    start, best_loss, best_step, bad_validations = 0, math.inf, -1, 0
    last_path, best_path = out / "last.pt", out / "best.pt"
    if config.resume and last_path.exists():
        from ..models.converters import read_checkpoint

        state = read_checkpoint(last_path)
        if state.training is None:
            raise ConfigError(f"{last_path}: no training state to resume from; use --restart")
        try:
            model.load_state_dict(state.state_dict)
            optimizer.load_state_dict(state.training["optimizer"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise ConfigError(f"{last_path} holds another model or optimiser ({str(exc).splitlines()[0]}); "
                              "use another out_dir or --restart") from None
        scheduler.load_state_dict(state.training["scheduler"])
        start, best_loss, best_step = state.training["step"], state.training["best_loss"], state.training["best_step"]
        bad_validations = state.training["bad_validations"]
        torch.set_rng_state(state.training["torch_rng"])
    logger = _Logger(out, start)
    # a run that stopped early stays stopped when it is run again
    stopped = config.patience is not None and bad_validations >= config.patience

    def checkpoint(step: int) -> Checkpoint:
        training = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step,
                    "best_loss": best_loss, "best_step": best_step, "bad_validations": bad_validations,
                    "torch_rng": torch.get_rng_state()}
        return Checkpoint(family, model_config, model.state_dict(), metadata=dict(metadata or {}), training=training)

    bar = tqdm(total=config.steps, initial=start, desc="training", unit="step", file=sys.stderr,
               disable=not progress)
    end = start if stopped else config.steps
    batches = _batches(data, start * config.accumulate, end * config.accumulate, config.workers, config.seed)
    done = start
    try:
        for step in range(start, end):
            model.train()
            optimizer.zero_grad(set_to_none=True)
            values, numbers = [], {}
            for _ in range(config.accumulate):
                with torch.autocast(device_type=device.type, enabled=use_amp):
                    value, parts = loss(model, next(batches))
                if not torch.isfinite(value):
                    raise TrainingDiverged(f"training diverged at step {step} (loss {value.item()}); "
                                           "lower the learning rate")
                scaler.scale(value / config.accumulate).backward()
                values.append(value.item())
                for name, number in parts.items():
                    numbers[name] = numbers.get(name, 0.0) + number / config.accumulate
            if config.grad_clip:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            bar.update(1)
            done = step + 1
            if done % config.log_every == 0:
                logger.log(done, {"train/loss": float(np.mean(values)), "train/lr": scheduler.get_last_lr()[0],
                                  **{f"train/{k}": v for k, v in numbers.items()}})
            if done % config.val_every == 0 or done == config.steps:
                model.eval()
                with torch.no_grad():
                    metrics = validate(model)
                logger.log(done, {f"val/{k}": v for k, v in metrics.items()})
                if snapshot is not None:
                    with torch.no_grad():
                        snapshot(model, done, out / "snapshots" / f"step_{done:07d}", logger.writer)
                bar.set_postfix(val_loss=f"{metrics['loss']:.4f}")
                if metrics["loss"] < best_loss:
                    best_loss, best_step, bad_validations = metrics["loss"], done, 0
                    save_checkpoint(checkpoint(done), best_path)
                else:
                    bad_validations += 1
                save_checkpoint(checkpoint(done), last_path)
                if config.patience is not None and bad_validations >= config.patience:
                    stopped = True
                    break
    finally:
        bar.close()
        logger.close()
    return TrainResult(done, best_loss, best_step, stopped, last_path, best_path)
