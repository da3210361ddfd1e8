"""The one training loop every songscope model family uses.

A family supplies three functions: ``batch(step)`` (a deterministic batch for a step, so a
resumed run sees the same data), ``loss(model, batch)`` returning the loss tensor and a dict
of numbers to log, and ``validate(model)`` returning a dict with at least ``"loss"`` (lower is
better). The loop does the rest: seeding, device selection, AdamW with warm-up + cosine
learning rate, gradient clipping, mixed precision on CUDA, validation, ``last.pt`` /
``best.pt`` checkpoints with optimizer, scheduler and RNG state, resume, early stopping,
``metrics.csv`` (and TensorBoard when installed), and a progress bar.
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
from ..errors import InputError

__all__ = ["TrainConfig", "TrainResult", "train_loop", "seed_everything"]


@dataclass
class TrainConfig:
    """Optimisation settings shared by every family.

    Attributes:
        steps: optimisation steps in total.
        lr: peak learning rate; warmup: linear warm-up steps; then cosine decay to lr / 100.
        weight_decay: AdamW weight decay. grad_clip: max gradient norm (None: off).
        val_every: steps between validations (and checkpoints). log_every: steps between log rows.
        patience: validations without improvement before stopping (None: never stop early).
        seed: seeds Python, NumPy and torch. device: cpu/cuda/mps (None: best available).
        amp: mixed precision (CUDA only). out_dir: run folder. resume: continue from last.pt.
    """

    steps: int = 1000
    lr: float = 1e-3
    warmup: int = 50
    weight_decay: float = 0.01
    grad_clip: float | None = 1.0
    val_every: int = 100
    log_every: int = 10
    patience: int | None = None
    seed: int = 0
    device: str | None = None
    amp: bool = False
    out_dir: str = "runs/train"
    resume: bool = True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"unknown training settings: {', '.join(sorted(unknown))}")
        return cls(**data)


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


def _schedule(config: TrainConfig) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < config.warmup:
            return (step + 1) / max(1, config.warmup)
        progress = (step - config.warmup) / max(1, config.steps - config.warmup)
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return factor


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


def _save(path: Path, payload: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def train_loop(model: torch.nn.Module, batch: Callable[[int], Any],
               loss: Callable[[torch.nn.Module, Any], tuple[torch.Tensor, dict[str, float]]],
               validate: Callable[[torch.nn.Module], dict[str, float]], config: TrainConfig,
               extra_state: Callable[[], dict[str, Any]] | None = None, progress: bool = True,
               snapshot: Callable[[torch.nn.Module, int, Path, Any], None] | None = None) -> TrainResult:
    """Train ``model`` (already on its device); see the module docstring.

    Args:
        model: the network; ``model.train()`` / ``model.eval()`` are set here.
        batch: step -> batch (moved to the device by ``loss``).
        loss: (model, batch) -> (scalar loss, numbers to log).
        validate: model -> {"loss": ..., other metrics}; run every ``val_every`` steps and at the end.
        config: optimisation settings.
        extra_state: returns what a checkpoint must carry besides weights (config, labels, ...).
        snapshot: called after each validation as ``snapshot(model, step, folder, tensorboard
            writer or None)`` to save media (audio, figures) under ``folder``.

    Returns:
        :class:`TrainResult`.
    """
    from tqdm import tqdm

    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(json.dumps(asdict(config), indent=2))
    seed_everything(config.seed)
    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config))
    use_amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    start, best_loss, best_step, bad_validations = 0, math.inf, -1, 0
    last_path, best_path = out / "last.pt", out / "best.pt"
    if config.resume and last_path.exists():
        state = torch.load(last_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start, best_loss, best_step = state["step"], state["best_loss"], state["best_step"]
        bad_validations = state["bad_validations"]
        torch.set_rng_state(state["torch_rng"])
    logger = _Logger(out, start)
    stopped = False

    def checkpoint(step: int) -> dict[str, Any]:
        return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "step": step, "best_loss": best_loss,
                "best_step": best_step, "bad_validations": bad_validations,
                "torch_rng": torch.get_rng_state(), **(extra_state() if extra_state else {})}

    bar = tqdm(total=config.steps, initial=start, desc="training", unit="step", file=sys.stderr,
               disable=not progress)
    done = start
    try:
        for step in range(start, config.steps):
            model.train()
            with torch.autocast(device_type=device.type, enabled=use_amp):
                value, numbers = loss(model, batch(step))
            if not torch.isfinite(value):
                raise InputError(f"training diverged at step {step} (loss {value.item()}); lower the learning rate")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(value).backward()
            if config.grad_clip:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            bar.update(1)
            done = step + 1
            if done % config.log_every == 0:
                logger.log(done, {"train/loss": value.item(), "train/lr": scheduler.get_last_lr()[0],
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
                    _save(best_path, checkpoint(done))
                else:
                    bad_validations += 1
                _save(last_path, checkpoint(done))
                if config.patience is not None and bad_validations >= config.patience:
                    stopped = True
                    break
    finally:
        bar.close()
        logger.close()
    return TrainResult(done, best_loss, best_step, stopped, last_path, best_path)
