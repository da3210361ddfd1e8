"""Lightning checkpoints of the public Band-Split RNN code (github.com/amanteur/BandSplitRNN-PyTorch):
``*.ckpt`` plus ``hparams.yaml``.

Their layout: ``state_dict`` keys prefixed ``model.``; one target per checkpoint; layer norms over
(features, frames) of fixed chunks of ``t_timesteps`` frames; group norms with one group per
feature; complex spectrograms as channels (``complex_as_channel: true``). The hyper-parameters come
from the checkpoint's ``hyper_parameters`` (the Hydra config their ``train.py`` hands to
``save_hyperparameters``, an OmegaConf container that ``container.safe_load`` reads as data) or
from ``hparams.yaml`` next to the file or in its parent folder (Lightning's log folder, their
``saved_models/<target>/`` layout). OmegaConf node interpolations (``is_mono:
${..train_dataset.is_mono}`` in their model configs) are resolved here. The target is
``audio_params.target`` (their inference configs) or ``train_dataset.target`` (training).
"""

from __future__ import annotations

import re
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


_INTERPOLATION = re.compile(r"^\$\{(\.*)([\w.]+)\}$")


def _lookup(root: dict[str, Any], keys: list[str]) -> Any:
    node: Any = root
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise KeyError(".".join(keys))
        node = node[key]
    return node


def resolve_interpolations(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with OmegaConf node interpolations replaced by the values they point to.

    ``${a.b}`` is absolute; ``${..a.b}`` relative (one dot: the enclosing node, each further dot
    one level up). Resolver calls such as ``${oc.env:X}`` and dangling references stay strings.
    """

    def resolve(value: Any, parents: list[str], depth: int = 0) -> Any:
        if isinstance(value, dict):
            return {k: resolve(v, parents + [str(k)]) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v, parents) for v in value]
        found = _INTERPOLATION.match(value) if isinstance(value, str) else None
        if not found or depth > 16:
            return value
        dots, dotted = found.groups()
        base = parents[:-1][:len(parents) - len(dots)] if dots else []
        keys = base + dotted.split(".")
        try:
            return resolve(_lookup(config, keys), keys, depth + 1)
        except KeyError:
            return value

    return resolve(config, [])


def _flag(cfg: dict[str, Any], key: str, default: bool) -> bool:
    value = cfg.get(key, default)
    if not isinstance(value, bool):
        raise CheckpointError(f"hparams: model.{key} must be true or false, got {value!r}")
    return value


def _target(hparams: dict[str, Any]) -> str:
    for section in ("audio_params", "train_dataset"):
        target = (hparams.get(section) or {}).get("target")
        if target:
            return str(target)
    raise CheckpointError("hparams: no target stem (audio_params.target or train_dataset.target)")


def _stft_settings(hparams: dict[str, Any], n_fft: int) -> int:
    """The hop of their torchaudio ``Spectrogram`` featurizer; refuses settings songscope's STFT
    (Hann window of n_fft samples, centred, reflect padding, not normalised) does not share."""
    featurizer = (hparams.get("featurizer") or {}).get("direct_transform") or {}
    win = int(featurizer.get("win_length") or n_fft)
    if win != n_fft or featurizer.get("normalized") or not featurizer.get("center", True) \
            or featurizer.get("pad_mode", "reflect") != "reflect":
        raise CheckpointError("hparams: only Spectrogram featurizers with win_length = n_fft, centred, "
                              "reflect-padded and not normalised are supported")
    return int(featurizer.get("hop_length") or win // 2)  # torchaudio's default hop


def bsrnn_config_from_hparams(hparams: dict[str, Any]) -> dict[str, Any]:
    """The ``BSRNNConfig`` settings equivalent to the public implementation's ``hparams.yaml``
    (or the Hydra config stored in its checkpoints)."""
    hparams = resolve_interpolations(hparams)
    cfg = hparams["model"]
    if cfg.get("bottleneck_layer", "rnn") != "rnn":
        raise CheckpointError("only the RNN bottleneck of the public BSRNN checkpoints is supported")
    if not _flag(cfg, "complex_as_channel", True):
        raise CheckpointError("magnitude-input BSRNN checkpoints (complex_as_channel: false) are not supported")
    if _flag(cfg, "return_mask", False):
        raise CheckpointError("BSRNN checkpoints that return masks (return_mask: true) are not supported")
    target, mono = _target(hparams), _flag(cfg, "is_mono", False)
    try:
        return {"targets": [target], "sample_rate": int(cfg["sr"]), "n_fft": int(cfg["n_fft"]),
                "hop": _stft_settings(hparams, int(cfg["n_fft"])), "channels": 1 if mono else 2,
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
