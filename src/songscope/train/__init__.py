"""The shared training loop (config, seeding, data loading, checkpoints, resume, logs, early stopping)."""

from .config import TrainConfig, build_config, read_config_file

__all__ = ["TrainConfig", "build_config", "read_config_file"]
