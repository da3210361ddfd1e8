"""CoverHunterMPS generator checkpoints (github.com/alanngnet/CoverHunterMPS) and the original
CoverHunter's: ``checkpoints/g_XXXXXXXX`` plus the run's ``hparams.yaml``.

Their trainer writes ``torch.save({"generator": model.state_dict()}, "g_%08d" % epoch)``: tensors
only, so the file opens with ``weights_only=True`` and nothing in it is refused. The optimiser and
early-stopping state go to ``do_XXXXXXXX`` beside it, which this converter does not read. The
hyper-parameters come from ``hparams.yaml`` next to the file, in its parent folder, or in the
parent's ``config/`` (their ``training/<name>/config/hparams.yaml`` +
``training/<name>/checkpoints/g_...`` layout; the original pretrained model's ``config/`` +
``pt_model/``). The original CoverHunter's ``ce:`` section is read as CoverHunterMPS's ``foc:``;
top-level keys songscope does not know (training settings of other CoverHunterMPS versions) are
left out with a note, while a wrong key inside a network section is an error. Without any
hparams.yaml the architecture is read from the weights' shapes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ...errors import CheckpointError, ConfigError
from ..catalog import ModelEntry
from ..container import Checkpoint

__all__ = ["convert", "detect", "hparams_from_weights"]

_HPARAMS = (Path("hparams.yaml"), Path("..") / "hparams.yaml", Path("..") / "config" / "hparams.yaml")


def detect(payload: dict[str, Any], path: Path) -> bool:
    """True for ``{"generator": state dict}`` holding CoverHunter's conformer (``_encoder.*``)."""
    state = payload.get("generator")
    return isinstance(state, dict) and any(str(k).startswith("_encoder.") for k in state)


def _find_hparams(path: Path) -> Path | None:
    for relative in _HPARAMS:
        candidate = (path.parent / relative).resolve()
        if candidate.is_file():
            return candidate
    return None


def hparams_from_weights(state: dict[str, Any]) -> dict[str, Any]:
    """The architecture keys of ``hparams.yaml`` implied by a state dict's shapes
    (``input_dim``, ``embed_dim``, ``encoder``, ``foc.output_dims``).

    Raises:
        CheckpointError: a weight the shapes are read from is missing.
    """
    try:
        blocks = {int(m.group(1)) for k in state if (m := re.match(r"_encoder\.encoders\.(\d+)\.", str(k)))}
        return {"input_dim": int(state["_global_cmvn.weight"].shape[0]),
                "embed_dim": int(state["_pool_layer._final_layer.weight"].shape[0]),
                "encoder": {"output_dims": int(state["_encoder.after_norm.weight"].shape[0]),
                            "num_blocks": len(blocks),
                            "attention_dim": int(state["_encoder.encoders.0.feed_forward.w_1.weight"].shape[0])},
                "foc": {"output_dims": int(state["_ce_layer.weight"].shape[0])}}
    except KeyError as exc:
        raise CheckpointError(f"not a complete CoverHunter state dict: no {exc.args[0]}") from None


def _read_config(path: Path, state: dict[str, Any]) -> tuple[Any, Path | None, list[str]]:
    """(CoverHunterConfig, its hparams file or None, notes)."""
    from ...covers.config import CoverHunterConfig, load_yaml

    found = _find_hparams(path)
    if found is None:
        config = CoverHunterConfig.from_hparams(hparams_from_weights(state), f"{path} (weights)")
        return config, None, ["no hparams.yaml next to it, in its parent or in ../config: the architecture was read "
                              "from the weights' shapes and every other setting (fmin 32 Hz, 96 bins, chunk_frame "
                              "[1125, 900, 675], mean_size 3, hop 0.04 s) is CoverHunterMPS's default"]
    try:
        raw = load_yaml(found)
        unknown = CoverHunterConfig.settings_of(raw)[1]
        config = CoverHunterConfig.from_hparams({k: v for k, v in raw.items() if k not in unknown}, found)
    except ConfigError as exc:
        raise CheckpointError(str(exc)) from None
    notes = [f"hyper-parameters from {found}"]
    if unknown:
        notes.append(f"left out hparams.yaml keys songscope does not know (none shapes the network): "
                     f"{', '.join(map(str, unknown))}")
    if "ce" in raw:
        notes.append("the original CoverHunter's 'ce:' section was read as CoverHunterMPS's 'foc:'")
    if config.foc.alpha:
        notes.append(f"foc.alpha ({config.foc.alpha}, per-class weights of the focal loss) was not read")
    if config.device == "cuda":
        notes.append("trained with device 'cuda': CoverHunterMPS computes CUDA features with nnAudio's CQT2010v2, "
                     "songscope the MPS path's CQT1992v2, and the two differ in many bins; embeddings may be off")
    return config, found, notes


def _check_shapes(state: dict[str, Any], config: Any, source: Path) -> tuple[dict[str, Any], list[str]]:
    """The weights the network holds, and notes on the rest; CheckpointError on a wrong shape or
    a missing weight that inference needs."""
    import torch

    from ...covers.model import TRAINING_ONLY, CoverHunterNet

    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in CoverHunterNet(config).state_dict().items()}
    for key, shape in expected.items():
        if key in state and tuple(state[key].shape) != shape:
            raise CheckpointError(f"{source}: weight {key} is {tuple(state[key].shape)}, the hyper-parameters "
                                  f"imply {shape}; is this the run's hparams.yaml?")
    missing = [k for k in expected if k not in state and k not in TRAINING_ONLY]
    if missing:
        raise CheckpointError(f"{source}: CoverHunter weights missing {', '.join(missing[:3])}"
                              f"{' ...' if len(missing) > 3 else ''}")
    notes = []
    extra = [k for k in state if k not in expected]
    if extra:
        notes.append(f"left out {len(extra)} weights the network does not have ({', '.join(map(str, extra[:3]))})")
    if any(k not in state for k in TRAINING_ONLY):
        notes.append("no center-loss centres: embedding works; training would start them afresh")
    return {k: v for k, v in state.items() if k in expected}, notes


def convert(payload: dict[str, Any], path: Path, entry: ModelEntry | None) -> Checkpoint:
    """The generator's weights (names unchanged) and its hyper-parameters in songscope's container."""
    state = dict(payload["generator"])
    config, hparams, notes = _read_config(path, state)
    state, shape_notes = _check_shapes(state, config, path)
    epoch = re.fullmatch(r"g_(\d+)", path.name)
    notes += shape_notes + ["the optimiser and early-stopping state (do_XXXXXXXX beside it) was not read"]
    metadata = {"epoch": int(epoch.group(1)) if epoch else None, "hparams": str(hparams) if hparams else None}
    return Checkpoint("coverhunter", config.to_hparams(), state, metadata=metadata, songscope_version=None,
                      notes=tuple(notes))
