"""Pair references with estimates by track name and score every pair for one task."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from .annotations import Annotation, read_annotations, track_name
from .metrics import beat_metrics, cover_metrics, key_metrics, separation_metrics, structure_metrics, tempo_metrics

__all__ = ["TASKS", "Evaluation", "evaluate"]

TASKS = ("beats", "structure", "key", "separation", "covers")
STEM_NAMES = ("bass", "drums", "other", "vocals", "accompaniment")
_AUDIO = (".wav", ".flac")


@dataclass
class Evaluation:
    """Per-track rows (track name -> metric -> value), their means, and what was skipped."""

    task: str
    rows: dict[str, dict[str, float]]
    mean: dict[str, float]
    unmatched_references: list[str] = field(default_factory=list)
    unmatched_estimates: list[str] = field(default_factory=list)

    def to_dict(self, per_track: bool = False) -> dict:
        def clean(values: dict[str, float]) -> dict[str, float | None]:
            return {k: (None if math.isnan(v) else round(v, 4)) for k, v in values.items()}

        out = {"task": self.task, "tracks": len(self.rows), "mean": clean(self.mean)}
        if self.unmatched_references or self.unmatched_estimates:
            out["unmatched"] = {"references": self.unmatched_references, "estimates": self.unmatched_estimates}
        if per_track:
            out["per_track"] = {name: clean(row) for name, row in self.rows.items()}
        return out


def _require(annotation: Annotation, what: str, task: str, side: str) -> None:
    if getattr(annotation, what) is None:
        raise InputError(f"{annotation.source}: the {side} has no {what} to evaluate {task}")


def _score(task: str, ref: Annotation, est: Annotation) -> dict[str, float]:
    if task == "beats":
        _require(ref, "beats", task, "reference")
        _require(est, "beats", task, "estimate")
        row = beat_metrics(ref.beats, est.beats, ref.downbeats, est.downbeats)
        if ref.bpm is not None:
            row.update(tempo_metrics(ref.bpm, est.bpm))
        return row
    if task == "structure":
        for side, a in (("reference", ref), ("estimate", est)):
            _require(a, "intervals", task, side)
            if len(a.intervals) == 0:
                raise InputError(f"{a.source}: the {side} has no sections")
        return structure_metrics(ref.intervals, ref.labels, est.intervals, est.labels)
    _require(ref, "key", task, "reference")
    _require(est, "key", task, "estimate")
    return key_metrics(ref.key, est.key)


def stem_folders(root: str | Path) -> dict[str, dict[str, Path]]:
    """Track folder name -> {stem: file} for every folder under ``root`` (or ``root`` itself)
    holding ``bass|drums|other|vocals|accompaniment.wav|flac`` (MUSDB layout)."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder of separated tracks")
    out: dict[str, dict[str, Path]] = {}
    for folder in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        stems = {f.stem: f for f in folder.iterdir() if f.suffix.lower() in _AUDIO and f.stem in STEM_NAMES}
        if stems:
            if folder.name in out:
                raise InputError(f"two track folders named {folder.name!r} under {root}")
            out[folder.name] = stems
    if not out:
        raise InputError(f"{root}: no track folder with {'/'.join(STEM_NAMES)} audio files")
    return out


def _score_separation(name: str, ref: dict[str, Path], est: dict[str, Path]) -> dict[str, float]:
    import soundfile as sf

    stems = sorted(set(ref) & set(est))
    if not stems:
        raise InputError(f"{name}: no stem in common (reference {sorted(ref)}, estimate {sorted(est)})")
    audio, rates = {}, set()
    for side, files in (("ref", ref), ("est", est)):
        for stem in stems:
            data, rate = sf.read(files[stem], dtype="float32", always_2d=True)
            audio[side, stem] = data
            rates.add(rate)
    if len(rates) != 1:
        raise InputError(f"{name}: stems at different sample rates {sorted(rates)}")
    return separation_metrics({k: audio["ref", k] for k in stems}, {k: audio["est", k] for k in stems}, rates.pop())


def work_ids(manifest: str | Path) -> dict[str, str]:
    """Track -> work id from a ``songscope synth`` manifest (or any CSV with those columns)."""
    import csv

    path = Path(manifest)
    if not path.is_file():
        raise InputError(f"{path}: no such manifest")
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"track", "work_id"} <= set(rows[0]):
        raise InputError(f"{path}: a cover reference needs 'track' and 'work_id' columns")
    return {row["track"]: row["work_id"] for row in rows}


def read_distances(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Track names and an (n, n) distance matrix from an ``.npz`` holding ``names`` and
    either ``distances`` or ``embeddings`` (n, d; cosine distance is used)."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .npz ({exc})") from None
    if "names" not in data or not ({"distances", "embeddings"} & set(data.files)):
        raise InputError(f"{path}: needs 'names' and 'distances' or 'embeddings' arrays")
    names = [track_name(str(n)) for n in data["names"]]
    if "distances" in data:
        return names, np.asarray(data["distances"], float)
    e = np.asarray(data["embeddings"], float)
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    return names, 1.0 - e @ e.T


def _evaluate_covers(references: str | Path, estimates: str | Path) -> Evaluation:
    works = work_ids(references)
    names, distances = read_distances(estimates)
    keep = [i for i, n in enumerate(names) if n in works]
    if len(keep) < 2:
        raise InputError(f"fewer than two tracks of {estimates} appear in {references}")
    metrics = cover_metrics(distances[np.ix_(keep, keep)], [works[names[i]] for i in keep])
    return Evaluation("covers", {"all": metrics}, metrics, sorted(set(works) - set(names)),
                      sorted(set(names) - set(works)))


def evaluate(task: str, references: str | Path, estimates: str | Path) -> Evaluation:
    """Score every track present on both sides.

    Args:
        task: one of :data:`TASKS`.
        references, estimates: files or folders (see :mod:`songscope.evaluate.annotations`).

    Raises:
        InputError: unknown task, unreadable files, no track in common, or a file lacking
            what the task needs.
    """
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    if task == "covers":
        return _evaluate_covers(references, estimates)
    reader = stem_folders if task == "separation" else read_annotations
    refs, ests = reader(references), reader(estimates)
    common = sorted(set(refs) & set(ests))
    if not common:
        raise InputError(f"no track name in common between {references} ({len(refs)} tracks) and {estimates} "
                         f"({len(ests)} tracks), e.g. {next(iter(refs))!r} vs {next(iter(ests))!r}")
    score = (lambda name: _score_separation(name, refs[name], ests[name])) if task == "separation" else \
        (lambda name: _score(task, refs[name], ests[name]))
    rows = {name: score(name) for name in common}
    metrics = list(dict.fromkeys(k for row in rows.values() for k in row))
    mean = {}
    for metric in metrics:
        values = [row[metric] for row in rows.values() if metric in row and not math.isnan(row[metric])]
        mean[metric] = float(np.mean(values)) if values else float("nan")
    return Evaluation(task, rows, mean, sorted(set(refs) - set(ests)), sorted(set(ests) - set(refs)))
