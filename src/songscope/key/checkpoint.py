"""Key models in the checkpoint container: building a ChromaNet from one, saving one, and the
calibration that maps a model's output indices to keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, InputError
from ..models.container import Checkpoint, save_checkpoint
from .chromanet import ChromaNetConfig, KeyModel
from .labels import KEY_SIGNATURES, key_name, parse_key

__all__ = ["key_model_from_checkpoint", "load_key_model", "save_key_model", "labels_from_reference_index"]


def key_model_from_checkpoint(checkpoint: Checkpoint, device: str | torch.device = "cpu") -> tuple[KeyModel, tuple[str, ...]]:
    """A ChromaNet with the checkpoint's weights, in eval mode on ``device``, and its labels.

    Raises:
        CheckpointError: no labels (an uncalibrated model), or weights that do not fit the config.
    """
    source = checkpoint.source or "checkpoint"
    try:
        config = ChromaNetConfig.from_dict(checkpoint.config)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: bad ChromaNet settings ({exc})") from None
    labels = tuple(checkpoint.labels)
    if not labels:
        raise CheckpointError(f"{source}: a key model without an index-to-key map; " + (
            checkpoint.notes[-1] if checkpoint.notes else "calibrate it and save it with save_key_model"))
    if len(labels) != config.num_classes:
        raise CheckpointError(f"{source}: {len(labels)} labels for {config.num_classes} outputs")
    model = KeyModel(config)
    missing, unexpected = model.load_state_dict(checkpoint.state_dict, strict=False)
    needed = [k for k in missing if not k.startswith("hcqt.")]  # the front end is rebuilt from the config
    if needed or unexpected:
        raise CheckpointError(f"{source}: weights do not fit ChromaNet (missing {needed[:3]}, unexpected {unexpected[:3]})")
    return model.to(device).eval(), labels


def load_key_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> tuple[KeyModel, tuple[str, ...]]:
    """Load a key model by name (``stone12``, ``stone24``) or path, through the model registry.

    Returns:
        ``(model, labels)``: the model in eval mode on ``device``; labels maps output index
        to key (24-class) or key signature (12-class).
    """
    from ..models.registry import resolve

    _, checkpoint = resolve("key", str(name_or_path))
    if checkpoint is None:
        raise InputError(f"{name_or_path}: not a ChromaNet model")
    return key_model_from_checkpoint(checkpoint, device)


def save_key_model(model: KeyModel, labels: tuple[str, ...], path: str | Path,
                   metadata: dict[str, Any] | None = None) -> Path:
    """Write a ChromaNet (config, weights, labels) as a ``stone`` checkpoint, atomically."""
    state = {k: v for k, v in model.state_dict().items()}
    return save_checkpoint(Checkpoint("stone", model.config.to_dict(), state, tuple(labels), dict(metadata or {})),
                           path)


def labels_from_reference_index(num_classes: int, index: int, reference_key: str = "C major") -> tuple[str, ...]:
    """Index-to-key map of a ChromaNet from the index it predicts on a reference recording.

    ChromaNet's classes follow the pitch classes in order (one index = one semitone up), so
    one known recording fixes the rotation. 24-class models: index = channel * 12 + class,
    channel 0 minor and 1 major, a class holding a relative minor/major pair; the reference
    must be in a major key and predicted in the major channel.
    """
    tonic, minor = parse_key(reference_key)
    if minor:
        raise InputError("calibration needs a reference in a major key")
    if num_classes == 12:
        return tuple(KEY_SIGNATURES[(tonic + i - index) % 12] for i in range(12))
    if index < 12:
        raise InputError(f"the {reference_key} reference was predicted as a minor key; use a clearer major recording")
    offset = index - 12
    majors = tuple(key_name((tonic + i - offset) % 12, False) for i in range(12))
    minors = tuple(key_name((tonic + i - offset - 3) % 12, True) for i in range(12))
    return minors + majors
