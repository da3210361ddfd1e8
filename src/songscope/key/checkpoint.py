"""Loading and saving key models: official STONE checkpoints and songscope's own format,
and the calibration that maps a model's output indices to keys."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_path
from ..errors import InputError
from ..models.checkpoints import resolve_checkpoint, sha256_of
from ..models.registry import REGISTRY
from .chromanet import ChromaNetConfig, KeyModel
from .labels import KEY_SIGNATURES, key_name, parse_key

__all__ = ["load_key_model", "save_key_model", "labels_from_reference_index"]

_FORMAT = "songscope-checkpoint-1"


def _torch_load(path: Path) -> dict[str, Any]:
    """``torch.load`` with ``weights_only=True``, allowing the numpy scalar STONE's files hold."""
    allowed = [np.dtype, type(np.dtype(np.float64))]
    scalar = getattr(getattr(np, "_core", np.core), "multiarray").scalar
    allowed.append((scalar, "numpy.core.multiarray.scalar"))
    try:
        with torch.serialization.safe_globals(allowed):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and unpickling errors all mean "not a checkpoint we read"
        raise InputError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a checkpoint (expected a dict)")
    return data


def _gin_value(lines: list[str], name: str) -> Any:
    for line in lines:
        match = re.match(rf"\s*{re.escape(name)}\s*=\s*(.+)$", line)
        if match:
            text = match.group(1).strip().strip('"')
            if text.startswith("["):
                return [int(v) for v in text.strip("[]").split(",") if v.strip()]
            return float(text) if "." in text else int(text)
    return None


def _stone_config(data: dict[str, Any]) -> ChromaNetConfig:
    """ChromaNet settings of an official STONE checkpoint, from its gin lines and state dict."""
    state = data["stone"]
    lines = [str(line) for line in data.get("gin_info", [])]
    num_classes = 12 * int(state["chromanet.classifier.weight"].shape[0])
    norm = "frame" if "chromanet.time_downsampling_blocks.0.norm.weight" in state else "global"
    channels = _gin_value(lines, "Stone.out_channels") or [2, 3, 40, 40, 30, 10, 3]
    kernels = _gin_value(lines, "Stone.kernels") or [7, 7, 7, 7, 7, 5, 5]
    return ChromaNetConfig(n_bins=int(_gin_value(lines, "Stone.n_bins") or 84), channels=tuple(channels),
                           kernels=tuple(kernels), num_classes=num_classes, norm=norm,
                           temperature=float(_gin_value(lines, "Stone.temperature") or 1.0))


def load_key_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> tuple[KeyModel, tuple[str, ...]]:
    """Load a key model by registry name (``stone12``, ``stone24``) or checkpoint path.

    Returns:
        ``(model, labels)``: the model in eval mode on ``device``; labels maps output index
        to key (24-class) or key signature (12-class).
    """
    path, entry = resolve_checkpoint(name_or_path, ("chromanet",))
    data = _torch_load(path)
    if data.get("format") == _FORMAT:
        config = ChromaNetConfig.from_dict(data["config"])
        labels = tuple(data["labels"])
        state = data["state_dict"]
    elif "stone" in data:
        config = _stone_config(data)
        state = data["stone"]
        if entry is None:  # an official file under another name: recognise it by digest
            digest = sha256_of(path)
            entry = next((e for e in REGISTRY.values() if e.sha256 == digest), None)
        if entry is None:
            raise InputError(f"{path}: a STONE checkpoint without a known index-to-key map; convert it with "
                             "songscope.key.checkpoint.save_key_model after calibrating it on a C-major recording")
        labels = entry.labels
    else:
        raise InputError(f"{path}: not a key-model checkpoint (no 'stone' or songscope state dict)")
    model = KeyModel(config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    needed = [k for k in missing if not k.startswith("hcqt.")]  # the front end can be rebuilt
    if needed or unexpected:
        raise InputError(f"{path}: state dict does not fit ChromaNet (missing {needed[:3]}, unexpected {unexpected[:3]})")
    if len(labels) != config.num_classes:
        raise InputError(f"{path}: {len(labels)} labels for {config.num_classes} outputs")
    return model.to(device).eval(), labels


def save_key_model(model: KeyModel, labels: tuple[str, ...], path: str | Path,
                   extra: dict[str, Any] | None = None) -> Path:
    """Write a songscope key-model checkpoint (config, state dict, labels), atomically."""
    payload = {"format": _FORMAT, "family": "chromanet", "config": model.config.to_dict(),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "labels": list(labels), **(extra or {})}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


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
