"""The shared training loop (config, seeding, checkpoints, resume, logs, early stopping)."""

from .loop import TrainConfig, TrainResult, seed_everything, train_loop

__all__ = ["TrainConfig", "TrainResult", "seed_everything", "train_loop"]
