"""Pair references with estimates by track name and score every pair for one task."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..conventions import SEEKABLE_SUFFIXES, STEMS
from ..errors import InputError
from .annotations import Annotation, read_annotations
from .metrics import beat_metrics, key_metrics, separation_metrics, structure_metrics, tempo_metrics

__all__ = ["TASKS", "Evaluation", "evaluate", "evaluate_model"]

TASKS = ("beats", "structure", "key", "separation", "covers")
STEM_NAMES = (*STEMS, "accompaniment")


@dataclass
class Evaluation:
    """Per-track rows (track name -> metric -> value), their means and medians over tracks, and
    what was skipped (the median of the separation ``SDR`` is the challenges' cSDR)."""

    task: str
    rows: dict[str, dict[str, float]]
    mean: dict[str, float]
    unmatched_references: list[str] = field(default_factory=list)
    unmatched_estimates: list[str] = field(default_factory=list)
    median: dict[str, float] = field(default_factory=dict)

    def to_dict(self, per_track: bool = False) -> dict:
        def clean(values: dict[str, float]) -> dict[str, float | None]:
            return {k: (None if math.isnan(v) else round(v, 4)) for k, v in values.items()}

        out = {"task": self.task, "tracks": len(self.rows), "mean": clean(self.mean)}
        if self.median:
            out["median"] = clean(self.median)
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
        stems = {f.stem: f for f in folder.iterdir() if f.suffix.lower() in SEEKABLE_SUFFIXES and f.stem in STEM_NAMES}
        if stems:
            if folder.name in out:
                raise InputError(f"two track folders named {folder.name!r} under {root}")
            out[folder.name] = stems
    if not out:
        raise InputError(f"{root}: no track folder with {'/'.join(STEM_NAMES)} audio files")
    return out


def _score_separation(name: str, ref: dict[str, Path], est: dict[str, Path]) -> dict[str, float]:
    """Separation metrics of stem files against a reference track folder."""
    import soundfile as sf

    sources, rates = {}, set()
    for stem in sorted(set(ref) & set(est)):
        data, rate = sf.read(est[stem], dtype="float32", always_2d=True)
        sources[stem] = data.T
        rates.add(rate)
    if len(rates) > 1:
        raise InputError(f"{name}: estimated stems at different sample rates {sorted(rates)}")
    return _score_stems(name, ref, sources, rates.pop() if rates else 0)


def _score_stems(name: str, ref: dict[str, Path], sources: dict[str, np.ndarray], rate: int) -> dict[str, float]:
    """Separation metrics of stems (C, N) at ``rate`` Hz against a reference track folder; the
    estimates are resampled to the references' rate when they differ."""
    import soundfile as sf
    import soxr

    common = sorted(set(ref) & set(sources))
    if not common:
        raise InputError(f"{name}: no stem in common (reference {sorted(ref)}, estimate {sorted(sources)})")
    references, estimates, ref_rate = {}, {}, rate
    for stem in common:
        references[stem], ref_rate = sf.read(ref[stem], dtype="float32", always_2d=True)
        estimate = np.ascontiguousarray(sources[stem].T)
        if rate != ref_rate:
            estimate = soxr.resample(estimate, rate, ref_rate, quality="HQ")
        estimates[stem] = np.asarray(estimate, dtype=np.float32)
    return separation_metrics(references, estimates, ref_rate)


def _summarise(task: str, rows: dict[str, dict[str, float]], refs: set[str], ests: set[str]) -> Evaluation:
    metrics = list(dict.fromkeys(k for row in rows.values() for k in row))
    mean, median = {}, {}
    for metric in metrics:
        values = [row[metric] for row in rows.values() if metric in row and not math.isnan(row[metric])]
        mean[metric] = float(np.mean(values)) if values else float("nan")
        median[metric] = float(np.median(values)) if values else float("nan")
    return Evaluation(task, rows, mean, sorted(refs - ests), sorted(ests - refs), median)


def _common(references: str | Path, refs: dict, estimates: str | Path, ests: dict) -> list[str]:
    common = sorted(set(refs) & set(ests))
    if not common:
        raise InputError(f"no track name in common between {references} ({len(refs)} tracks) and {estimates} "
                         f"({len(ests)} tracks), e.g. {next(iter(refs))!r} vs {next(iter(ests))!r}")
    return common


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
        from .covers import evaluate_covers

        return evaluate_covers(references, estimates)
    reader = stem_folders if task == "separation" else read_annotations
    refs, ests = reader(references), reader(estimates)
    common = _common(references, refs, estimates, ests)
    score = (lambda name: _score_separation(name, refs[name], ests[name])) if task == "separation" else \
        (lambda name: _score(task, refs[name], ests[name]))
    return _summarise(task, {name: score(name) for name in common}, set(refs), set(ests))


#: The engine task whose predictions each evaluation task scores (beats are scored on what
#: ``analyze -m`` gives).
_ENGINE_TASK = {"beats": "structure", "structure": "structure", "key": "key", "separation": "separation",
                "covers": "covers"}


def _as_annotation(result: object, source: str) -> Annotation:
    """An engine's typed result in the shape references are read into."""
    from ..result import KeyResult, StructureResult

    if isinstance(result, StructureResult):
        beats = result.beats
        return Annotation(beats.beats, beats.downbeats, beats.bpm, None,
                          np.array([[s.start, s.end] for s in result.segments]).reshape(-1, 2),
                          [s.label for s in result.segments], source)
    if isinstance(result, KeyResult):
        return Annotation(key=result.key or result.key_signature, source=source)
    raise InputError(f"{source}: cannot score a {type(result).__name__}")


def evaluate_model(task: str, references: str | Path, audio: str | Path, model: str,
                   device: str | None = None) -> Evaluation:
    """Run a model of the registry on audio and score it against references in one go.

    Args:
        task: one of :data:`TASKS`.
        references: as for :func:`evaluate`; for separation, MUSDB-style track folders whose
            ``mixture`` file is separated (``audio`` is then ignored and may be the same folder).
        audio: audio files or folders, paired with the references by file name.
        model: a ``-m`` value of the matching task (``classic``, a name, a path, ``a,b``).
        device: for neural models.

    Raises:
        ConfigError / CheckpointError: the model; InputError: references, audio, or no track in common.
    """
    from ..audio.signal import decode
    from ..library.inputs import expand_inputs, output_stems
    from ..models.registry import load_engine

    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    if task == "covers":
        from .covers import evaluate_covers

        return evaluate_covers(references, audio, model=model, device=device)
    engine = load_engine(_ENGINE_TASK[task], model, device)
    if task == "separation":
        refs = stem_folders(references)
        mixtures = {name: next((f for f in Path(next(iter(files.values()))).parent.iterdir()
                                if f.stem == "mixture" and f.suffix.lower() in SEEKABLE_SUFFIXES), None)
                    for name, files in refs.items()}
        rows = {}
        for name, path in mixtures.items():
            if path is not None:
                stems = engine.predict(decode(path, engine.views))
                rows[name] = _score_stems(name, refs[name], stems.sources, stems.sample_rate)
        if not rows:
            raise InputError(f"{references}: no track folder holds a mixture file to separate")
        return _summarise(task, rows, set(refs), set(rows))
    refs = read_annotations(references)
    files = {name: f for f, name in output_stems(expand_inputs([audio])).items()}
    common = _common(references, refs, audio, files)
    rows = {name: _score(task, refs[name], _as_annotation(engine.predict(decode(files[name], engine.views)),
                                                          str(files[name])))
            for name in common}
    return _summarise(task, rows, set(refs), set(files))

