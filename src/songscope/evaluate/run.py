"""Pair references with estimates by track name and score every pair for one task."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from .annotations import Annotation, read_annotations
from .metrics import beat_metrics, key_metrics, structure_metrics, tempo_metrics

__all__ = ["TASKS", "Evaluation", "evaluate"]

TASKS = ("beats", "structure", "key")


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
    refs, ests = read_annotations(references), read_annotations(estimates)
    common = sorted(set(refs) & set(ests))
    if not common:
        raise InputError(f"no track name in common between {references} ({len(refs)} tracks) and {estimates} "
                         f"({len(ests)} tracks), e.g. {next(iter(refs))!r} vs {next(iter(ests))!r}")
    rows = {name: _score(task, refs[name], ests[name]) for name in common}
    metrics = list(dict.fromkeys(k for row in rows.values() for k in row))
    mean = {}
    for metric in metrics:
        values = [row[metric] for row in rows.values() if metric in row and not math.isnan(row[metric])]
        mean[metric] = float(np.mean(values)) if values else float("nan")
    return Evaluation(task, rows, mean, sorted(set(refs) - set(ests)), sorted(set(ests) - set(refs)))
