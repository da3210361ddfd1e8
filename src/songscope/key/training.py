"""Training ChromaNet the STONE way, through the shared loop.

Data: a folder of audio (labels not needed) and, optionally, a CSV of ``path,key`` rows
(paths relative to the CSV or absolute; keys like ``F# minor``). Every step draws random
crops: two per track, from different places, seen through CQT windows shifted by random
offsets of 0 .. ``max_shift`` bins, which transposes them by whole semitones for free.

Modes:
- ``selfsupervised``: 12 outputs, CPSD loss between the two crops (STONE);
- ``supervised``: 24 outputs, cross-entropy on labelled tracks (the target follows the shift);
- ``mixed``: 24 outputs, alternating self-supervised and supervised steps (24-STONE).

Self-supervised models learn the key signatures up to a rotation; the output map is
calibrated automatically on a C-major reference (a song songscope synthesises, or the
user's own recording), as STONE's README does by hand.
"""

from __future__ import annotations

import csv
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..audio.signal import Audio, decode
from ..errors import InputError
from ..library.inputs import expand_inputs
from ..train.cache import AudioCache
from ..train.loop import TrainResult, best_state, train_loop
from .chromanet import ChromaNetConfig, KeyModel
from .checkpoint import labels_from_reference_index, save_key_model
from .labels import key_name, key_signature, parse_key
from .losses import cpsd_loss, key_signature_profile, supervised_key_loss
from .config import KeyTrainConfig
from .stone import prepare_track, window_probabilities

__all__ = ["KeyData", "KeySteps", "canonical_labels", "train_key_model", "synthetic_reference"]


def canonical_labels() -> tuple[str, ...]:
    """Output map of songscope-trained 24-class models: class i of the major block is the key
    on A + i semitones (CQT bin 0 is A0), class i of the minor block its relative minor."""
    return tuple(key_name((6 + i) % 12, True) for i in range(12)) + tuple(key_name((9 + i) % 12, False)
                                                                          for i in range(12))


def _read_labels(csv_path: Path) -> dict[Path, tuple[int, bool]]:
    out = {}
    with open(csv_path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if "path" not in row or "key" not in row:
                raise InputError(f"{csv_path}: needs 'path' and 'key' columns")
            path = Path(row["path"])
            path = path if path.is_absolute() else csv_path.parent / path
            out[path.resolve()] = parse_key(row["key"])
    if not out:
        raise InputError(f"{csv_path}: no labelled rows")
    return out


class KeyData:
    """Training tracks streamed from a decoded-audio cache (mono, 22.05 kHz, each scaled by its
    peak as STONE normalises), with optional keys, and the deterministic crop sampler:
    ``batch(step)`` depends only on (seed, step)."""

    def __init__(self, folder: str | Path, labels: dict[Path, tuple[int, bool]] | None, crop: int,
                 batch_size: int, max_shift: int, seed: int, cache: AudioCache):
        self.tracks: list[np.ndarray] = []
        self.gains: list[float] = []
        self.keys: list[tuple[int, bool] | None] = []
        for f in expand_inputs([folder]):
            track = cache.get(f)
            peak = float(np.max(np.abs(track))) if len(track) >= crop else 0.0
            if peak > 0.0:
                self.tracks.append(track)
                self.gains.append(1.0 / peak)
                self.keys.append((labels or {}).get(f.resolve()))
        if not self.tracks:
            raise InputError(f"{folder}: no audible track as long as a training crop "
                             f"({crop / cache.sample_rate:.1f} s)")
        self.crop, self.batch_size, self.max_shift, self.seed = crop, batch_size, max_shift, seed
        self.labelled = [i for i, k in enumerate(self.keys) if k is not None]

    def track(self, i: int) -> np.ndarray:
        """(N,) float32: track ``i`` whole, peak 1."""
        return np.asarray(self.tracks[i], dtype=np.float32) * np.float32(self.gains[i])

    def batch(self, step: int, labelled: bool = False) -> dict[str, Any]:
        """Two crops (B, 1, crop) per example from different places of the same tracks, their CQT
        offsets, and with ``labelled`` the tracks' keys (``tonic``, ``minor``)."""
        rng = np.random.default_rng([self.seed, step])
        pool = self.labelled if labelled else range(len(self.tracks))
        if labelled and not self.labelled:
            raise InputError("no labelled track in the training data")
        idx = rng.choice(list(pool), size=self.batch_size)
        crops = []
        for _ in range(2):
            starts = [int(rng.integers(0, len(self.tracks[i]) - self.crop + 1)) for i in idx]
            crops.append(np.stack([self.tracks[i][s:s + self.crop] * np.float32(self.gains[i])
                                   for i, s in zip(idx, starts)])[:, None].astype(np.float32))
        offsets = rng.integers(0, self.max_shift + 1, size=(2, self.batch_size))
        out = {"a": torch.from_numpy(crops[0]), "b": torch.from_numpy(crops[1]),
               "offset_a": torch.from_numpy(offsets[0]), "offset_b": torch.from_numpy(offsets[1])}
        if labelled:
            out["tonic"] = torch.tensor([self.keys[i][0] for i in idx])
            out["minor"] = torch.tensor([self.keys[i][1] for i in idx])
        return out


class KeySteps:
    """The loop's batches: ``steps[i]`` is batch ``i``, labelled in supervised mode and on odd
    batches in mixed mode (24-STONE alternates the two objectives)."""

    def __init__(self, data: KeyData, mode: str):
        self.data, self.mode = data, mode

    def __getitem__(self, index: int) -> dict[str, Any]:
        labelled = self.mode == "supervised" or (self.mode == "mixed" and index % 2 == 1)
        return {**self.data.batch(index, labelled), "labelled": labelled}


def _logits(model: KeyModel, audio: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Logits of crops seen through per-example CQT offsets."""
    spec = model.hcqt(audio)
    n = model.config.n_bins
    x = torch.stack([spec[i, :, int(o):int(o) + n] for i, o in enumerate(offsets)])
    return model.chromanet(x)


def _targets(tonic: torch.Tensor, minor: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Indices in :func:`canonical_labels` order of keys seen ``offsets`` semitones lower."""
    major_class = (tonic + minor.long() * 3 - 9 - offsets) % 12
    return torch.where(minor, major_class, major_class + 12)


def _step_losses(model: KeyModel, batch: dict[str, Any], circle: int, labelled: bool):
    """Loss of one batch: cross-entropy on labelled crops, else CPSD between the two crops."""
    device = next(model.parameters()).device
    a, b = batch["a"].to(device), batch["b"].to(device)
    oa, ob = batch["offset_a"].to(device), batch["offset_b"].to(device)
    if labelled:
        logits = _logits(model, a, oa)
        target = _targets(batch["tonic"].to(device), batch["minor"].to(device), oa)
        ce = supervised_key_loss(logits, target, model.config.temperature)
        return ce, {"ce": ce.item(), "acc": (logits.argmax(1) == target).float().mean().item()}
    la, lb = _logits(model, a, oa), _logits(model, b, ob)
    t = model.config.temperature
    pa = key_signature_profile(torch.softmax(la / t, dim=1))
    pb = key_signature_profile(torch.softmax(lb / t, dim=1))
    # offset o shows a crop o semitones lower, so b sounds (oa - ob) semitones above a
    cpsd = cpsd_loss(pa, pb, (oa - ob).float(), circle)
    return cpsd, {"cpsd": cpsd.item()}


def synthetic_reference(key: str = "C major", sample_rate: int = 22050) -> Audio:
    """A 30-second synthetic recording in ``key`` for calibration (songscope's own synth)."""
    from ..synth import make_song, render_song

    tonic, minor = parse_key(key)
    song = make_song(seed=1234, tempo=100.0, tonic=tonic, minor=minor,
                     form=(("verse", 4), ("chorus", 4), ("verse", 4)))
    return Audio.from_array(render_song(song, sample_rate, seed=1234)["mixture"], sample_rate)


def train_key_model(config: KeyTrainConfig, progress: bool = True) -> tuple[TrainResult, Path]:
    """Train a ChromaNet; returns the loop's result and the path of the calibrated model
    (``<out_dir>/key_model.pt``, loadable with ``songscope key -m PATH``)."""
    from ..device import select_device

    tc = config.train
    device = select_device(tc.device)
    sr = 22050
    crop = int(round(config.crop_seconds * sr))
    cache = AudioCache(config.cache or Path(tc.out_dir) / "audio_cache", sr)
    labels = _read_labels(Path(config.labels)) if config.labels else None
    data = KeyData(config.data, labels, crop, config.batch_size, config.max_shift, tc.seed, cache)
    val = KeyData(config.validation, labels, crop, config.batch_size, config.max_shift, tc.seed + 1, cache) \
        if config.validation else None
    net_config = ChromaNetConfig(channels=config.channels, kernels=config.kernels, num_classes=config.num_classes,
                                 norm="frame" if config.num_classes == 12 else "global",
                                 segment_seconds=config.crop_seconds)
    torch.manual_seed(tc.seed)
    model = KeyModel(net_config).to(device)
    reference = prepare_track(decode(config.reference) if config.reference else
                              synthetic_reference(config.reference_key, sr), sr)

    def loss(m: KeyModel, b: dict[str, Any]):
        return _step_losses(m, b, config.circle, b["labelled"])

    def current_labels(m: KeyModel) -> tuple[str, ...]:
        if config.num_classes == 24:
            return canonical_labels()
        probs, _ = window_probabilities(m, reference)
        return labels_from_reference_index(12, int(probs.mean(axis=0).argmax()), config.reference_key)

    def validate(m: KeyModel) -> dict[str, float]:
        """Loss on fixed batches (the same every time): the training objective, so CPSD plus
        cross-entropy in mixed mode when validation tracks have labels; then accuracy of the
        track-level decision on labelled validation tracks."""
        source = val or data
        kinds = {"selfsupervised": [False], "supervised": [True], "mixed": [False, True]}[config.mode]
        metrics = {}
        for labelled in kinds:
            if labelled and not source.labelled:
                continue
            values = [_step_losses(m, source.batch(10 ** 6 + i, labelled), config.circle, labelled)[0].item()
                      for i in range(4)]
            metrics["ce" if labelled else "cpsd"] = float(np.mean(values))
        metrics["loss"] = sum(metrics.values())
        if source.labelled:
            table = current_labels(m)
            signature_hits = key_hits = 0
            for i in source.labelled:
                probs, _ = window_probabilities(m, source.track(i))
                label = table[int(probs.mean(axis=0).argmax())]
                truth = key_signature(*source.keys[i])
                if config.num_classes == 12:
                    signature_hits += label == truth
                else:
                    signature_hits += key_signature(*parse_key(label)) == truth
                    key_hits += parse_key(label) == tuple(source.keys[i])
            metrics["key_signature_acc"] = signature_hits / len(source.labelled)
            if config.num_classes == 24:
                metrics["key_acc"] = key_hits / len(source.labelled)
        return metrics

    settings = {**asdict(config), "train": asdict(tc)}
    result = train_loop(model, KeySteps(data, config.mode), loss, validate, tc, "stone", net_config.to_dict(),
                        {"train_config": settings}, progress=progress)
    model.load_state_dict(best_state(result))
    model.eval()
    out = save_key_model(model, current_labels(model), Path(tc.out_dir) / "key_model.pt",
                         {"best_step": result.best_step, "best_val_loss": result.best_loss, "train_config": settings})
    return result, out
