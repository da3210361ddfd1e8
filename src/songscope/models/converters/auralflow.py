"""Model files of Auralflow 0.1.0 (PyPI ``auralflow``, github.com/kianzohoury/auralflow).

Auralflow's training writes, in its ``training_params.checkpoint_path`` folder, the run's whole
configuration as ``training_template.json`` (sections ``model_params``, ``dataset_params``,
``training_params``, ``visualizer_params``) and, per saved epoch, ``<model_name>_<epoch>.pth``:
``torch.save`` of the network's bare state dict (next to ``<model_name>_optimizer_<epoch>.pth``
and ``..._scheduler_...``, which hold no weights). Its loader picks the last ``<model_name>_<n>.pth``
of the folder. Such a file is read here with the configuration next to it; the recurrent sizes
(fixed in 0.1.0: 3 layers of 1024 units over the bins axis) come from the weights themselves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import CheckpointError
from ..catalog import ModelEntry
from ..container import Checkpoint

__all__ = ["CONFIG_NAME", "auralflow_config", "convert", "detect"]

#: Name of the configuration Auralflow saves next to its model files.
CONFIG_NAME = "training_template.json"
_FAMILY = {"SpectrogramNetSimple": "auralflow-simple", "SpectrogramNetLSTM": "auralflow-lstm",
           "SpectrogramNetVAE": "auralflow-vae"}


def detect(payload: dict[str, Any], path: Path) -> bool:
    """True for the bare state dict of one of Auralflow's spectrogram networks."""
    return "soft_conv.0.weight" in payload and "down_1.conv_block.conv.0.conv.weight" in payload


def _read_config(path: Path) -> dict[str, Any]:
    candidate = path.parent / CONFIG_NAME
    if not candidate.is_file():
        raise CheckpointError(f"{path}: an Auralflow model file needs its {CONFIG_NAME} next to it")
    try:
        data = json.loads(candidate.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{candidate}: not readable JSON ({exc})") from None
    if not isinstance(data, dict) or not {"model_params", "dataset_params"} <= set(data):
        raise CheckpointError(f"{candidate}: not an Auralflow configuration (needs model_params and dataset_params)")
    return data


def _recurrent(state: dict[str, Any], features: dict[int, int]) -> dict[str, Any]:
    """LSTM depth, units and input axis read from the weights."""
    depth = sum(1 for k in state if k.startswith("lstm.weight_ih_l") and not k.endswith("_reverse"))
    width = int(state["lstm.weight_ih_l0"].shape[1])
    axis = next((a for a, n in features.items() if n == width), None)
    if axis is None:
        raise CheckpointError(f"LSTM input of {width} features fits neither axis of the configured chunk")
    return {"recurrent_depth": depth, "hidden_size": int(state["lstm.weight_hh_l0"].shape[1]), "input_axis": axis}


def auralflow_config(data: dict[str, Any], state: dict[str, Any]) -> tuple[str, dict[str, Any], tuple[str, ...]]:
    """The songscope family, ``AuralflowConfig`` settings and notes for Auralflow's configuration
    ``data`` (``training_template.json``) and the network's ``state`` dict.

    Raises:
        CheckpointError: another model type, several targets, or missing settings.
    """
    from ...separation.auralflow import MASK_ACTIVATIONS, auralflow_frames

    model, dataset = data["model_params"], data["dataset_params"]
    family = _FAMILY.get(str(model.get("model_type")))
    if family is None:
        raise CheckpointError(f"Auralflow model_type {model.get('model_type')!r} is not one of {', '.join(_FAMILY)}")
    targets = sorted(dataset.get("targets", ()))
    if len(targets) != 1:
        raise CheckpointError(f"Auralflow's networks estimate one target; the configuration names {targets}")
    notes = []
    activation = str(model.get("mask_activation", "sigmoid"))
    if activation not in MASK_ACTIVATIONS:
        notes.append(f"mask_activation {activation!r} means sigmoid in Auralflow")
        activation = "sigmoid"
    try:
        hop, rate = int(dataset["hop_length"]), int(dataset["sample_rate"])
        config = {"targets": targets, "sample_rate": rate, "n_fft": int(dataset["num_fft"]),
                  "window": int(dataset["window_size"]), "hop": hop, "channels": int(dataset["num_channels"]),
                  "chunk_frames": auralflow_frames(float(dataset["sample_length"]), rate, hop),
                  "hidden": int(model["hidden_channels"]), "leak": float(model["leak_factor"]),
                  "dropout": float(model["dropout_p"]), "normalize_input": bool(model["normalize_input"]),
                  "normalize_output": bool(model["normalize_output"]), "mask_activation": activation}
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"Auralflow configuration: missing or bad setting ({exc})") from None
    if family != "auralflow-simple":
        deep = config["hidden"] << 5
        bins, frames = config["n_fft"] // 2 + 1, config["chunk_frames"]
        config.update(_recurrent(state, {0: deep * (bins >> 6), 1: deep * (frames >> 6)}))
    if family == "auralflow-vae":
        notes.append("Auralflow samples the VAE latent at inference too; songscope uses its mean "
                     "(latent_sampling = 'always' gives Auralflow's behaviour)")
    notes.append("Auralflow pads each chunk's end with zeros to a whole hop; songscope's chunks are "
                 "that padded length of audio")
    return family, config, tuple(notes)


def convert(payload: dict[str, Any], path: Path, entry: ModelEntry | None) -> Checkpoint:
    """The network's weights under ``net.``, its settings from ``training_template.json``."""
    data = _read_config(path)
    family, config, notes = auralflow_config(data, payload)
    state = {f"net.{key}": value for key, value in payload.items()}
    metadata = {"auralflow_config": data, "window_seconds": (config["chunk_frames"] - 1) * config["hop"]
                / config["sample_rate"]}
    return Checkpoint(family, config, state, metadata=metadata, songscope_version=None, notes=notes)
