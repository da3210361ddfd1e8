"""The files songscope 0.1 wrote: key models (``songscope-checkpoint-1``), separation models
(``songscope-separation/1``) and training checkpoints (``last.pt`` / ``best.pt``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..catalog import ModelEntry
from ..container import Checkpoint

__all__ = ["convert_key", "convert_separation", "convert_training", "detect_key", "detect_separation",
           "detect_training"]

_KEY = "songscope-checkpoint-1"
_SEPARATION = "songscope-separation/1"
_VERSION = "0.1"
_TRAINING_STATE = ("optimizer", "scheduler", "step", "best_loss", "best_step", "bad_validations", "torch_rng")


def _plain(payload: dict[str, Any], skip: set[str]) -> dict[str, Any]:
    """The payload's extra entries that are plain JSON values (numbers, strings, ...)."""
    return {k: v for k, v in payload.items() if k not in skip and isinstance(v, (int, float, str, bool, list, dict))}


def detect_key(payload: dict[str, Any], path: Path) -> bool:
    return payload.get("format") == _KEY


def convert_key(payload: dict[str, Any], path: Path, entry: ModelEntry | None) -> Checkpoint:
    """A 0.1 key model: ChromaNet config, state dict and labels, the rest as metadata."""
    fixed = {"format", "family", "config", "state_dict", "labels"}
    return Checkpoint("stone", dict(payload["config"]), dict(payload["state_dict"]), tuple(payload["labels"]),
                      _plain(payload, fixed), songscope_version=_VERSION)


def detect_separation(payload: dict[str, Any], path: Path) -> bool:
    return payload.get("format") == _SEPARATION


def convert_separation(payload: dict[str, Any], path: Path, entry: ModelEntry | None) -> Checkpoint:
    """A 0.1 separation model: it stored the network's state dict, the container the model's (``net.``)."""
    state = {f"net.{k}": v for k, v in payload["state_dict"].items()}
    return Checkpoint(str(payload["family"]), dict(payload["config"]), state,
                      metadata=_plain(payload, {"format", "family", "config", "state_dict"}), songscope_version=_VERSION)


def detect_training(payload: dict[str, Any], path: Path) -> bool:
    return "model" in payload and "optimizer" in payload and ("separation" in payload or "net_config" in payload)


def convert_training(payload: dict[str, Any], path: Path, entry: ModelEntry | None) -> Checkpoint:
    """A 0.1 training checkpoint: weights, the training state to resume from, and the run's settings.
    Key runs stored no labels (a 12-class model is calibrated when exported), so none are set."""
    training = {k: payload[k] for k in _TRAINING_STATE}
    if "separation" in payload:
        family, config = payload["separation"]["family"], payload["separation"]["config"]
        settings = payload.get("separation_train_config", {})
    else:
        family, config, settings = "stone", payload["net_config"], payload.get("key_train_config", {})
    notes = () if family != "stone" else ("no labels: a key training checkpoint is calibrated on export "
                                          "(use the run's key_model.pt)",)
    return Checkpoint(str(family), dict(config), dict(payload["model"]), metadata={"train_config": settings},
                      training=training, songscope_version=_VERSION, notes=notes)
