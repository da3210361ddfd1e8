"""Lightning checkpoints of the public Band-Split RNN code (github.com/amanteur/BandSplitRNN-PyTorch):
``*.ckpt`` plus ``hparams.yaml``.

Their layout: ``state_dict`` keys prefixed ``model.``; one target per checkpoint; layer norms over
(features, frames) of fixed chunks of ``t_timesteps`` frames; group norms with one group per
feature; complex spectrograms as channels (``complex_as_channel: true``). The hyper-parameters come
from the checkpoint's ``hyper_parameters`` or from ``hparams.yaml`` next to the file or in its
parent folder (their ``saved_models/<target>/`` layout).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import CheckpointError
from ..catalog import ModelEntry
from ..container import Checkpoint

__all__ = ["bsrnn_config_from_hparams", "convert", "detect"]


def detect(payload: dict[str, Any], path: Path) -> bool:
    """True for a Lightning checkpoint of a module holding the network as ``model``."""
    state = payload.get("state_dict")
    return isinstance(state, dict) and any(str(k).startswith("model.") for k in state)


def _read_hparams(path: Path, payload: dict[str, Any]) -> dict[str, Any]:
    hparams = payload.get("hyper_parameters")
    if isinstance(hparams, dict) and "model" in hparams:
        return hparams
    for candidate in (path.parent / "hparams.yaml", path.parent.parent / "hparams.yaml"):
        if candidate.is_file():
            try:
                import yaml
            except ImportError:
                raise CheckpointError("reading hparams.yaml needs PyYAML: pip install 'songscope[neural]'") from None
            data = yaml.safe_load(candidate.read_text(encoding="utf-8"))
            if isinstance(data, dict) and "model" in data:
                return data
            raise CheckpointError(f"{candidate}: no 'model' section")
    raise CheckpointError(f"{path}: Lightning checkpoint without hyper-parameters; put its hparams.yaml next to it")


def bsrnn_config_from_hparams(hparams: dict[str, Any]) -> dict[str, Any]:
    """The ``BSRNNConfig`` settings equivalent to the public implementation's ``hparams.yaml``."""
    cfg = hparams["model"]
    if cfg.get("bottleneck_layer", "rnn") != "rnn":
        raise CheckpointError("only the RNN bottleneck of the public BSRNN checkpoints is supported")
    if not cfg.get("complex_as_channel", True):
        raise CheckpointError("magnitude-input BSRNN checkpoints (complex_as_channel: false) are not supported")
    featurizer = hparams.get("featurizer", {}).get("direct_transform", {})
    target = hparams.get("audio_params", {}).get("target", "vocals")
    try:
        return {"targets": [target], "sample_rate": int(cfg["sr"]), "n_fft": int(cfg["n_fft"]),
                "hop": int(featurizer.get("hop_length", cfg["n_fft"] // 4)), "channels": 1 if cfg.get("is_mono") else 2,
                "bands": [list(pair) for pair in cfg["bandsplits"]], "fc_dim": int(cfg["fc_dim"]),
                "rnn_dim": int(cfg["rnn_dim"]), "num_layers": int(cfg["num_layers"]), "mlp_dim": int(cfg["mlp_dim"]),
                "rnn_type": str(cfg["rnn_type"]), "bidirectional": bool(cfg["bidirectional"]),
                "norm_groups": int(cfg["fc_dim"]), "chunk_frames": int(cfg["t_timesteps"]),
                "legacy_mask_layout": True}
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"hparams.yaml: missing or bad model setting ({exc})") from None


def convert(payload: dict[str, Any], path: Path, entry: ModelEntry | None) -> Checkpoint:
    """The network's weights renamed to songscope's Band-Split RNN (one mask head per target)."""
    config = bsrnn_config_from_hparams(_read_hparams(path, payload))
    target = config["targets"][0]
    state, skipped = {}, []
    for key, value in payload["state_dict"].items():
        if not key.startswith("model."):
            skipped.append(key)
            continue
        key = key[len("model."):]
        if key.startswith("maskest."):
            key = f"maskest.{target}." + key[len("maskest."):]
        state[f"net.{key}"] = value
    dropped = [k for k in ("optimizer_states", "lr_schedulers", "callbacks", "loops") if k in payload]
    notes = tuple(note for note in (
        f"left out the Lightning training state ({', '.join(dropped)})" if dropped else "",
        f"left out {len(skipped)} weights outside the network ({', '.join(skipped[:3])})" if skipped else "") if note)
    return Checkpoint("bsrnn", config, state, metadata={"lightning_epoch": payload.get("epoch")},
                      songscope_version=None, notes=notes)
