"""``analyze``: beats, downbeats, meter, tempo, key and labelled sections of recordings,
written as allin1-compatible JSON (plus activations, figures, click tracks, JAMS and
Audacity labels on request). This module only composes the task packages."""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from .atomic import atomic_path
from .audio.decode import MIN_DURATION, load_mono, require_music
from .audio.features import ANALYSIS_SR, Features, compute_features
from .beats.dbn import DBNConfig
from .beats.track import CLASSIC_DBN, track_beats
from .errors import InputError, SongscopeError
from .key.api import estimate_key
from .key.classic import estimate_key_classic
from .library.inputs import expand_inputs, output_stems
from .library.runner import Failure, default_jobs, run_batch
from .result import AnalysisResult, Segment, load_result, save_audacity_labels, save_jams, save_result
from .structure.classic import segment_classic

__all__ = ["AnalyzeOptions", "BatchError", "MIN_DURATION", "MODELS", "analyze", "analyze_file",
           "check_model", "run_analysis"]

#: Engines analyze can run. allin1's model names are recognised to give a clear message.
MODELS = ("classic",)
_ALLIN1_MODELS = {"harmonix-all"} | {f"harmonix-fold{i}" for i in range(8)}
_DEVICES = ("cpu", "cuda", "mps")


class BatchError(SongscopeError):
    """Some inputs of a batch failed; ``results`` holds the others, ``failures`` the reasons."""

    def __init__(self, results: list[AnalysisResult], failures: list[Failure]):
        self.results, self.failures = results, failures
        lines = "; ".join(f.message for f in failures)
        super().__init__(f"{len(failures)} of {len(results) + len(failures)} inputs failed: {lines}")


@dataclass(frozen=True)
class AnalyzeOptions:
    """Everything that decides what one file's analysis computes and writes.

    Directories set to None mean "do not write that output".
    """

    model: str = "classic"
    key_model: str = "classic"
    device: str | None = None
    meters: tuple[int, ...] = CLASSIC_DBN.beats_per_bar
    min_bpm: float = CLASSIC_DBN.min_bpm
    max_bpm: float = CLASSIC_DBN.max_bpm
    include_activations: bool = False
    include_embeddings: bool = False
    out_dir: Path | None = None
    viz_dir: Path | None = None
    viz_format: str = "pdf"
    sonif_dir: Path | None = None
    spec_dir: Path | None = None
    jams: bool = False
    audacity: bool = False
    skip_existing: bool = False
    demix_model: str | None = None
    demix_dir: Path | None = None
    keep_stems: bool = False

    def dbn(self) -> DBNConfig:
        return replace(CLASSIC_DBN, beats_per_bar=tuple(self.meters), min_bpm=self.min_bpm, max_bpm=self.max_bpm)


def check_model(model: str, device: str | None, key_model: str = "classic", demix_model: str | None = None) -> None:
    """Fail early, once, on an unknown engine, device or unavailable key / separation checkpoint."""
    if model in _ALLIN1_MODELS:
        raise InputError(f"model {model!r} (allin1's All-In-One network) is not available in this "
                         "songscope version; use -m classic")
    if model not in MODELS:
        raise InputError(f"unknown model {model!r}; available: {', '.join(MODELS)}")
    if device is not None and device.split(":")[0] not in _DEVICES:
        raise InputError(f"unknown device {device!r}; use cpu, cuda or mps")
    from .models.checkpoints import resolve_checkpoint

    if key_model != "classic":
        resolve_checkpoint(key_model, ("chromanet",))
    for part in (demix_model or "").split(","):  # several separation models combine, one per stem
        if part.strip() not in ("", "classic"):
            resolve_checkpoint(part.strip(), ("bsrnn", "unet"))


def _decode(path: Path) -> tuple[np.ndarray, float]:
    mono, meta = load_mono(path, ANALYSIS_SR)
    return mono, require_music(mono, ANALYSIS_SR, "analyze", path)


def _analyze_signal(path: Path, mono: np.ndarray, duration: float,
                    options: AnalyzeOptions) -> tuple[AnalysisResult, Features]:
    features = compute_features(mono, ANALYSIS_SR)
    track = track_beats(features, options.dbn())
    structure = segment_classic(features, track.beats, track.downbeats, duration)
    if options.key_model == "classic":
        key = estimate_key_classic(mono, ANALYSIS_SR)
    else:
        key = estimate_key(path, model=options.key_model, device=options.device)
    activations = None
    if options.include_activations:
        activations = {"beat": track.activations.sum(axis=1).astype(np.float32),
                       "downbeat": track.activations[:, 1].astype(np.float32),
                       "segment": structure.novelty, "label": structure.label_activations}
    # values carry the precision the JSON keeps, so a written result reads back equal
    result = AnalysisResult(
        path=str(path), bpm=None if track.bpm is None else int(round(track.bpm)),
        beats=np.round(track.beats, 4).tolist(), downbeats=np.round(track.downbeats, 4).tolist(),
        beat_positions=track.positions.tolist(),
        segments=[Segment(round(s.start, 4), round(s.end, 4), s.label) for s in structure.segments],
        key=key.key, key_signature=key.key_signature, key_confidence=round(key.confidence, 4),
        time_signature=f"{track.beats_per_bar}/4" if track.beats_per_bar else None,
        duration=round(duration, 4), engine=options.model, activations=activations,
    )
    return result, features


def analyze_file(path: str | Path, options: AnalyzeOptions = AnalyzeOptions()) -> AnalysisResult:
    """Analyze one file without writing anything.

    Raises:
        AudioError: unreadable, too short or silent input.
    """
    path = Path(path)
    mono, duration = _decode(path)
    return _analyze_signal(path, mono, duration, options)[0]


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)


def _process(item: tuple[Path, str], options: AnalyzeOptions) -> AnalysisResult:
    """Analyze one file and write every requested output (runs in a worker process)."""
    path, stem = item
    json_path = options.out_dir / f"{stem}.json" if options.out_dir else None
    if options.skip_existing and json_path is not None and json_path.exists():
        return load_result(json_path)
    mono, duration = _decode(path)
    with contextlib.ExitStack() as stack:
        if options.demix_model:
            folder = Path(options.demix_dir or "./demix") if options.keep_stems else \
                Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="songscope-demix-")))
            _demix(path, folder / stem, options)
        result, features = _analyze_signal(path, mono, duration, options)
    if json_path is not None:
        save_result(result, json_path)
        if result.activations is not None:
            _save_npz(options.out_dir / f"{stem}.activ.npz", result.activations)
        if options.jams:
            save_jams(result, options.out_dir / f"{stem}.jams")
        if options.audacity:
            save_audacity_labels(result, options.out_dir / f"{stem}.labels.txt")
    if options.spec_dir is not None:
        _save_npz(options.spec_dir / f"{stem}.features.npz",
                  {"log_bands": features.log_bands, "chroma": features.chroma, "mfcc": features.mfcc,
                   "rms_db": features.rms_db, "fps": np.float32(features.fps)})
    if options.viz_dir is not None:
        from .viz.figure import save_figure
        save_figure(result, options.viz_dir / f"{stem}.{options.viz_format}", mono=mono, sample_rate=ANALYSIS_SR)
    if options.sonif_dir is not None:
        from .viz.sonify import save_sonification
        save_sonification(result, options.sonif_dir / f"{stem}.sonif.wav")
    return result


def _demix(path: Path, folder: Path, options: AnalyzeOptions) -> dict[str, Path]:
    """Separate ``path`` into ``folder`` first, as allin1 does."""
    from .separation.api import load_separator, separate_file

    return separate_file(path, folder, load_separator(options.demix_model, options.device))


def _output_dir(flag: bool | str | os.PathLike | None, default: str) -> Path | None:
    """allin1 style: False/None -> no output, True -> the default folder, a path -> that folder."""
    if flag is None or flag is False:
        return None
    return Path(default) if flag is True else Path(flag)


def analyze(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike | None = None,
    visualize: bool | str | os.PathLike = False,
    sonify: bool | str | os.PathLike = False,
    model: str = "classic",
    device: str | None = None,
    key_model: str = "classic",
    include_activations: bool = False,
    include_embeddings: bool = False,
    demix: bool | str = False,
    demix_dir: str | os.PathLike = "./demix",
    spec_dir: str | os.PathLike = "./spec",
    keep_byproducts: bool = False,
    overwrite: bool = True,
    multiprocess: bool = True,
    jobs: int | None = None,
    meters: Sequence[int] = CLASSIC_DBN.beats_per_bar,
    min_bpm: float = CLASSIC_DBN.min_bpm,
    max_bpm: float = CLASSIC_DBN.max_bpm,
    viz_format: str = "pdf",
    jams: bool = False,
    audacity: bool = False,
    skip_existing: bool = False,
    progress: bool = False,
    errors: str = "raise",
) -> AnalysisResult | list[AnalysisResult]:
    """Analyze recordings: tempo, beats, downbeats, beat positions, sections, key.

    Mirrors ``allin1.analyze``: a single path returns one :class:`AnalysisResult`, a list
    (or a folder, searched recursively) returns a list.

    Args:
        paths: audio file(s) and/or folder(s).
        out_dir: write ``<name>.json`` (and ``.activ.npz``, ``.jams``, ``.labels.txt``) here.
        visualize: True (``./viz``) or a folder: save a figure per track.
        sonify: True (``./sonif``) or a folder: save ``<name>.sonif.wav`` click tracks.
        model: engine; ``"classic"`` needs no weights.
        device: ``cpu``/``cuda``/``mps``; the classic engine always runs on the CPU.
        key_model: key engine: ``"classic"``, ``"stone12"``, ``"stone24"`` or a checkpoint path.
        include_activations: attach (and with out_dir write) frame activations.
        include_embeddings: the classic engine has none; a warning says so.
        demix: separate each input first (True: the classic separation engine; or a separation
            model name / checkpoint path). The analysis engines read the mixture; the stems are
            kept in ``demix_dir/<name>/`` with ``keep_byproducts``, else deleted afterwards.
        demix_dir: where separated stems go.
        spec_dir: with ``keep_byproducts``, the frame features are saved here.
        keep_byproducts: keep intermediate features in ``spec_dir`` and stems in ``demix_dir``.
        overwrite: allin1 compatibility; results are recomputed unless ``skip_existing``.
        multiprocess: analyze several files in parallel processes.
        jobs: worker processes (default: usable CPU cores).
        meters: beats per bar to consider; min_bpm, max_bpm: tempo range (BPM).
        viz_format: ``pdf`` or ``png``.
        jams: also write ``<name>.jams``; audacity: also write ``<name>.labels.txt``.
        skip_existing: reuse ``<name>.json`` already in ``out_dir``.
        progress: progress bar on stderr.
        errors: ``"raise"`` raises :class:`BatchError` after the batch if any input
            failed (results of the others are on the exception); ``"skip"`` warns and
            returns the successful results only.
    """
    del overwrite  # accepted for allin1 compatibility: results are recomputed unless skip_existing
    demix_model = ("classic" if demix is True else str(demix)) if demix else None
    check_model(model, device, key_model, demix_model)
    if viz_format not in {"pdf", "png", "svg"}:
        raise InputError(f"unknown figure format {viz_format!r}; use pdf, png or svg")
    if errors not in {"raise", "skip"}:
        raise InputError("errors must be 'raise' or 'skip'")
    single = isinstance(paths, (str, os.PathLike)) and not Path(paths).is_dir()
    files = expand_inputs([paths] if isinstance(paths, (str, os.PathLike)) else list(paths))
    if include_embeddings:
        warnings.warn(f"engine {model!r} has no embeddings; nothing is written for them "
                      "(embeddings come with neural models)", stacklevel=2)
    options = AnalyzeOptions(
        model=model, key_model=key_model, device=device, meters=tuple(int(m) for m in meters),
        min_bpm=float(min_bpm), max_bpm=float(max_bpm),
        include_activations=include_activations, include_embeddings=include_embeddings,
        out_dir=Path(out_dir) if out_dir is not None else None,
        viz_dir=_output_dir(visualize, "./viz"), viz_format=viz_format,
        sonif_dir=_output_dir(sonify, "./sonif"),
        spec_dir=Path(spec_dir) if keep_byproducts else None,
        jams=jams, audacity=audacity, skip_existing=skip_existing,
        demix_model=demix_model,
        demix_dir=Path(demix_dir), keep_stems=keep_byproducts,
    )
    options.dbn()  # validate the tempo range and meters before any work starts
    if single:
        return _process((files[0], output_stems(files)[files[0]]), options)
    workers = (jobs or default_jobs()) if multiprocess else 1
    done, failures = run_analysis(files, options, jobs=workers, progress=progress)
    if failures:
        if errors == "raise":
            raise BatchError(done, failures)
        warnings.warn(f"{len(failures)} input(s) failed: " + "; ".join(f.message for f in failures), stacklevel=2)
    return done


def run_analysis(files: Sequence[Path], options: AnalyzeOptions, jobs: int = 1,
                 progress: bool = False) -> tuple[list[AnalysisResult], list[Failure]]:
    """Analyze ``files`` (already expanded) and write their outputs, going on past failures.

    Returns:
        ``(results, failures)``: results of the files that worked, in input order, and a
        :class:`~songscope.library.runner.Failure` (path, one-line message) per other file.
    """
    files = list(files)
    names = output_stems(files)
    items = [(f, names[f]) for f in files]
    results, failures = run_batch(functools.partial(_process, options=options), items,
                                  jobs=jobs, progress=progress)
    for failure in failures:
        failure.item = failure.item[0]
    return [r for r in results if r is not None], failures
