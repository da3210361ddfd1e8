"""Training the All-In-One network through the shared loop, the way allin1 trains it.

Losses (allin1's ``compute_losses``): binary cross-entropy of the beat, downbeat and boundary
logits against their widened targets, cross-entropy of the function logits against the frame
labels, each averaged over frames and weighted; tracks without sections add no boundary or
function loss. Validation after every epoch on the held-out fold, whole tracks: the loss, then
the decoded beats and sections (the engine's post-processing) scored with mir_eval: beat F,
downbeat F, HR.5F, HR3F, the label accuracy of the decoded sections and the frame accuracy
of the function logits.

``fold = "all"`` trains one model per fold (``<out_dir>/fold<k>/``) and writes their ensemble
as one checkpoint, ``<out_dir>/model.pt`` (loaded as allin1's ``harmonix-all`` is: averaged logits).
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...errors import InputError
from ...evaluate.metrics import beat_metrics, structure_metrics
from ...models.container import Checkpoint, save_checkpoint
from ...train.loop import TrainResult, best_state, train_loop
from .dataset import SpectrogramCache, StructureCrops, StructureTrack, assign_folds, find_structure_tracks
from .family import ALLIN1_DBN, ENSEMBLE_KEY, activations_from_logits, structure_from_activations
from .model import AllInOne, AllInOneLogits
from .targets import merge_label
from .train_config import StructureTrainConfig

__all__ = ["save_ensemble", "structure_losses", "train_structure_model"]

def structure_losses(logits: AllInOneLogits, batch: dict[str, torch.Tensor],
                     weights: dict[str, float]) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted sum of the four losses and each of them.

    Args:
        logits: network outputs for N crops of T frames.
        batch: ``beat``, ``downbeat``, ``section`` (N, T) float targets, ``function`` (N, T)
            int64 labels, ``has_sections`` (N,) 1/0 (on the logits' device).
        weights: loss name -> weight (missing: 1).
    """
    with_sections = batch["has_sections"]
    parts = {
        "beat": F.binary_cross_entropy_with_logits(logits.beat, batch["beat"]),
        "downbeat": F.binary_cross_entropy_with_logits(logits.downbeat, batch["downbeat"]),
        "section": (F.binary_cross_entropy_with_logits(logits.section, batch["section"], reduction="none")
                    .mean(dim=1) * with_sections).sum() / with_sections.sum().clamp(min=1.0),
        "function": (F.cross_entropy(logits.function, batch["function"], reduction="none")
                     .mean(dim=1) * with_sections).sum() / with_sections.sum().clamp(min=1.0),
    }
    total = sum(weights.get(name, 1.0) * value for name, value in parts.items())
    return total, {name: float(value.detach()) for name, value in parts.items()}


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


def _whole(spec: np.ndarray, track: StructureTrack, fps: float) -> dict[str, torch.Tensor]:
    targets = track.targets(spec.shape[1], fps)
    return {"spec": torch.from_numpy(np.asarray(spec, dtype=np.float32))[None],
            **{k: torch.from_numpy(getattr(targets, k))[None] for k in ("beat", "downbeat", "section", "function")},
            "has_sections": torch.tensor([float(targets.has_sections)])}


def _track_scores(model: AllInOne, batch: dict[str, torch.Tensor], track: StructureTrack) -> dict[str, float]:
    cfg = model.cfg
    logits = model(batch["spec"])
    scores = {"loss": structure_losses(logits, batch, {})[0].item()}
    activations = activations_from_logits(logits.beat[0], logits.downbeat[0], logits.section[0], logits.function[0])
    result = structure_from_activations(activations, ALLIN1_DBN, cfg)
    beats = beat_metrics(track.beats, result.beats.beats, track.downbeats, result.beats.downbeats)
    scores.update(beat_F=beats["F"], downbeat_F=beats.get("downbeat_F", math.nan))
    if batch["has_sections"].item():
        intervals = np.array([[s.start, s.end] for s in result.segments])
        reference = np.stack([track.boundaries[:-1], track.boundaries[1:]], axis=1)
        sections = structure_metrics(reference, [merge_label(x) for x in track.labels], intervals,
                                     [s.label for s in result.segments])
        predicted = logits.function[0].argmax(dim=0)
        scores.update({"HR.5F": sections["HR.5F"], "HR3F": sections["HR3F"],
                       "label_accuracy": sections["label_accuracy"],
                       "frame_accuracy": float((predicted == batch["function"][0]).float().mean())})
    return scores


def _split(tracks: list[StructureTrack], config: StructureTrainConfig, fold: int,
           seed: int) -> tuple[list[StructureTrack], list[StructureTrack]]:
    folds = assign_folds([t.name for t in tracks], config.num_folds, seed)
    train = [t for t in tracks if folds[t.name] != fold]
    held = [t for t in tracks if folds[t.name] == fold]
    if not held or not train:
        raise InputError(f"{config.data}: {len(tracks)} tracks cannot fill fold {fold} of {config.num_folds} and "
                         "leave tracks to train on; add tracks or lower num_folds")
    return train, held


def _train_fold(config: StructureTrainConfig, tracks: list[StructureTrack], fold: int, out: Path,
                progress: bool) -> tuple[TrainResult, AllInOne]:
    from ...device import select_device

    tc = replace(config.train, out_dir=str(out))
    device = torch.device(select_device(tc.device))
    cfg = config.network()
    train, held = _split(tracks, config, fold, tc.seed)
    cache = SpectrogramCache(config.spec_dir or Path(config.train.out_dir) / "spec_cache", cfg, config.demix,
                             tc.device)
    chain = config.chain()
    crops = StructureCrops(train, cache, int(round(config.segment_seconds * cfg.fps)), config.batch_size, tc.seed,
                           chain if chain.probability > 0 else None)
    if config.epochs is not None:
        per_epoch = math.ceil(len(train) / config.batch_size)
        tc = replace(tc, steps=config.epochs * per_epoch, val_every=per_epoch, log_every=min(tc.log_every, per_epoch))
    validation = [(_whole(cache.spectrogram(t), t, cfg.fps), t) for t in held]
    torch.manual_seed(tc.seed + fold)
    model = AllInOne(cfg).to(device)

    def loss(m: AllInOne, batch: dict[str, torch.Tensor]):
        batch = _to(batch, device)
        return structure_losses(m(batch["spec"]), batch, config.loss_weights)

    def validate(m: AllInOne) -> dict[str, float]:
        rows = [_track_scores(m, _to(batch, device), track) for batch, track in validation]
        names = sorted({k for row in rows for k in row})
        return {k: float(np.nanmean([row.get(k, math.nan) for row in rows])) for k in names}

    settings = {**asdict(config), "train": asdict(tc), "fold": fold,
                "validation_tracks": [t.name for t in held], "training_tracks": len(train)}
    result = train_loop(model, crops, loss, validate, tc, "allinone", cfg.to_dict(), {"train_config": settings},
                        progress=progress)
    model.load_state_dict(best_state(result))
    save_checkpoint(Checkpoint("allinone", cfg.to_dict(), model.state_dict(),
                               metadata={"best_step": result.best_step, "best_val_loss": result.best_loss,
                                         "train_config": settings}), out / "model.pt")
    return result, model.eval()


def save_ensemble(models: list[AllInOne], path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """One checkpoint holding several All-In-One models of the same architecture (averaged at
    inference); the first model's config is the container's."""
    state = {f"{ENSEMBLE_KEY}.{i}.{name}": tensor for i, m in enumerate(models) for name, tensor in m.state_dict().items()}
    return save_checkpoint(Checkpoint("allinone", models[0].cfg.to_dict(), state,
                                      metadata={**(metadata or {}), ENSEMBLE_KEY: len(models)}), path)


def train_structure_model(config: StructureTrainConfig, progress: bool = True) -> tuple[TrainResult, Path]:
    """Train fold ``config.fold`` (or every fold, then their ensemble); returns the loop's result
    (of the last fold trained) and ``<out_dir>/model.pt``, loadable with ``analyze -m``.

    Raises:
        InputError: no data, or too few tracks for the folds.
    """
    if not config.data:
        raise InputError("structure training needs data: give --data or 'data' in the config")
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    tracks = find_structure_tracks(config.data)
    out = Path(config.train.out_dir)
    if config.fold != "all":
        result, _ = _train_fold(config, tracks, int(config.fold), out, progress)
        return result, out / "model.pt"
    models, summary = [], {}
    for fold in range(config.num_folds):
        result, model = _train_fold(config, tracks, fold, out / f"fold{fold}", progress)
        models.append(model)
        summary[f"fold{fold}"] = {"best_step": result.best_step, "best_val_loss": result.best_loss}
    return result, save_ensemble(models, out / "model.pt", {"folds": summary})

