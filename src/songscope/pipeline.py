"""``analyze``: beats, downbeats, meter, tempo, key and labelled sections of recordings,
written as allin1-compatible JSON (plus activations, embeddings, figures, click tracks, JAMS
and Audacity labels on request).

This module only composes engines from the model registry: each input is decoded once into
every form the engines and writers read; with ``--demix`` the separation engine's stems are
handed to the structure engine when it reads stems; the structure engine (``-m``) and the key
engine (``--key-model``) then predict; :mod:`songscope.writers` writes. No family is named here.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .audio.decode import require_music
from .audio.signal import Audio, View, decode
from .beats.track import CLASSIC_DBN
from .errors import BatchError, ConfigError, Failure
from .library.inputs import expand_inputs, output_stems
from .library.runner import default_jobs, run_batch
from .models.family import Engine
from .models.registry import load_engine
from .result import AnalysisResult, Stems, StructureResult, load_result
from .writers import OutputPlan, write_outputs

__all__ = ["AnalyzeOptions", "Engines", "analyze", "analyze_audio", "analyze_file", "load_engines", "run_analysis"]

_VIZ_FORMATS = ("pdf", "png", "svg")


@dataclass(frozen=True)
class AnalyzeOptions:
    """What one file's analysis computes (``model``, ``key_model``, ``demix_model`` and the
    decoder settings) and writes (``plan``).

    Attributes:
        model: structure engine (``-m``). key_model: key engine, None for no key.
        demix_model: separation engine run first (``--demix``), None for none.
        device: ``cpu``/``cuda``/``mps`` for neural engines (None: best available).
        meters, min_bpm, max_bpm: beat-decoder settings (beats per bar, tempo range in BPM).
        plan: the outputs. skip_existing: reuse a track whose every output exists.
    """

    model: str = "classic"
    key_model: str | None = "classic"
    demix_model: str | None = None
    device: str | None = None
    meters: tuple[int, ...] = CLASSIC_DBN.beats_per_bar
    min_bpm: float = CLASSIC_DBN.min_bpm
    max_bpm: float = CLASSIC_DBN.max_bpm
    plan: OutputPlan = OutputPlan()
    skip_existing: bool = False

    def __post_init__(self) -> None:
        if self.plan.viz_format not in _VIZ_FORMATS:
            raise ConfigError(f"unknown figure format {self.plan.viz_format!r}; use {', '.join(_VIZ_FORMATS)}")


@dataclass(frozen=True)
class Engines:
    """The engines of one run: structure, key (or None) and separation (or None)."""

    structure: Engine
    key: Engine | None
    demix: Engine | None

    def views(self) -> set[View]:
        """Every form of the mixture the engines read."""
        return {v for engine in (self.structure, self.key, self.demix) if engine is not None for v in engine.views}


@functools.lru_cache(maxsize=4)
def _load(model: str, key_model: str | None, demix_model: str | None, device: str | None,
          meters: tuple[int, ...], min_bpm: float, max_bpm: float) -> Engines:
    settings = {"meters": meters, "min_bpm": min_bpm, "max_bpm": max_bpm}
    structure = load_engine("structure", model, device, settings)
    if structure.uses_stems and demix_model is None:
        demix_model = "classic"
    return Engines(structure, None if key_model is None else load_engine("key", key_model, device),
                   None if demix_model is None else load_engine("separation", demix_model, device))


def load_engines(options: AnalyzeOptions) -> Engines:
    """The engines ``options`` name, loaded once per process (a structure engine that reads stems
    gets the classic separation engine when no ``demix_model`` is given).

    Raises:
        ConfigError, CheckpointError: an unknown or unusable model, device or setting.
    """
    return _load(options.model, options.key_model, options.demix_model, options.device, tuple(options.meters),
                 float(options.min_bpm), float(options.max_bpm))


def _demix(audio: Audio, engines: Engines, plan: OutputPlan, name: str) -> Stems | None:
    """Separate first when the structure engine reads stems or the stems are kept (``-k``);
    stream the in-memory mixture through the separator, writing the kept stems as it goes and
    handing each chunk to the structure engine's ``stem_sink`` (features computed chunk by
    chunk, bounded memory) or, without one, collecting the whole stems."""
    from .separation.api import CollectedStems, separate_into

    folder = plan.demix_dir / name if plan.demix_dir is not None else None
    if engines.demix is None or (folder is None and not engines.structure.uses_stems):
        return None
    mixture = audio.get(engines.demix.sample_rate, engines.demix.channels)
    if not engines.structure.uses_stems:
        return separate_into(mixture, engines.demix, None, folder, name)  # stems written only
    make_sink = getattr(engines.structure, "stem_sink", None)
    sink = (make_sink(engines.demix.sample_rate, engines.demix.name) if make_sink is not None
            else CollectedStems(engines.demix.sample_rate, engines.demix.name))
    return separate_into(mixture, engines.demix, sink, folder, name)


def analyze_audio(audio: Audio, engines: Engines, plan: OutputPlan = OutputPlan(), name: str = "audio",
                  activations: bool = False, embeddings: bool = False) -> tuple[AnalysisResult, StructureResult]:
    """Analyze decoded audio with loaded engines (nothing is decoded or written here, except the
    stems ``plan.demix_dir`` keeps).

    Returns:
        the result (with the structure engine's activations / embeddings attached when asked)
        and the structure engine's full output (for writers).

    Raises:
        AudioError: shorter than a second, or digital silence.
    """
    view = engines.structure.views[0]
    duration = require_music(audio.get(view.sample_rate, view.channels), view.sample_rate or audio.source_rate,
                             "analyze", audio.path)
    stems = _demix(audio, engines, plan, name)
    if stems is not None:
        audio = audio.with_stems(stems)
    structure = engines.structure.predict(audio)
    key = engines.key.predict(audio) if engines.key is not None else None
    result = AnalysisResult.compose(audio.path or name, duration, structure, key, engines.structure.name,
                                    activations, embeddings)
    return result, structure


def analyze_file(path: str | Path, options: AnalyzeOptions = AnalyzeOptions()) -> AnalysisResult:
    """Analyze one file without writing anything.

    Raises:
        AudioError: unreadable, too short or silent input.
    """
    engines = load_engines(options)
    return analyze_audio(decode(path, engines.views()), engines)[0]


def _process(item: tuple[Path, str], options: AnalyzeOptions) -> AnalysisResult:
    """Analyze one file and write every requested output (runs in a worker process)."""
    path, name = item
    plan = options.plan
    if options.skip_existing and plan.out_dir is not None:
        if plan.done(name):
            return load_result(plan.out_dir / f"{name}.json")
        missing = [p.name for p in plan.expected(name) if not p.exists()]
        if len(missing) < len(plan.expected(name)):
            print(f"songscope: note: {path}: {', '.join(missing)} missing; analysing it again", file=sys.stderr)
    engines = load_engines(options)
    audio = decode(path, engines.views() | plan.views())
    result, structure = analyze_audio(audio, engines, plan, name, plan.activations, plan.embeddings)
    write_outputs(name, result, structure, audio, plan)
    return result


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
    key_model: str | None = "classic",
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
        out_dir: write ``<name>.json`` (and ``.activ.npz``, ``.embed.npy``, ``.jams``, ``.labels.txt``) here.
        visualize: True (``./viz``) or a folder: save a figure per track.
        sonify: True (``./sonif``) or a folder: save ``<name>.sonif.wav`` click tracks.
        model: structure engine: ``"classic"`` (no weights), a registry name, a checkpoint path,
            or ``a,b`` (an ensemble, where the family allows it).
        device: ``cpu``/``cuda``/``mps`` for neural engines.
        key_model: key engine (``"classic"``, ``"stone12"``, ``"stone24"``, a path), None for no key.
        include_activations: attach (and with out_dir write) frame activations.
        include_embeddings: attach (and write) embeddings of engines that have them.
        demix: separate each input first (True: the classic separation engine; or a separation
            model name / checkpoint path). Engines that read stems get them; the stems are kept
            in ``demix_dir/<name>/`` with ``keep_byproducts``.
        demix_dir: where kept stems go.
        spec_dir: with ``keep_byproducts``, the structure engine's frame features go here.
        keep_byproducts: keep intermediate features in ``spec_dir`` and stems in ``demix_dir``.
        overwrite: allin1 compatibility; results are recomputed unless ``skip_existing``.
        multiprocess: analyze several files in parallel processes.
        jobs: worker processes (default: usable CPU cores).
        meters: beats per bar to consider; min_bpm, max_bpm: tempo range (BPM).
        viz_format: ``pdf``, ``png`` or ``svg``.
        jams: also write ``<name>.jams``; audacity: also write ``<name>.labels.txt``.
        skip_existing: reuse a track whose every requested output already exists.
        progress: progress bar on stderr.
        errors: ``"raise"`` raises :class:`~songscope.errors.BatchError` after the batch if any
            input failed (results of the others are on the exception); ``"skip"`` warns and
            returns the successful results only.
    """
    del overwrite  # accepted for allin1 compatibility: results are recomputed unless skip_existing
    if errors not in {"raise", "skip"}:
        raise ConfigError("errors must be 'raise' or 'skip'")
    single = isinstance(paths, (str, os.PathLike)) and not Path(paths).is_dir()
    plan = OutputPlan(out_dir=Path(out_dir) if out_dir is not None else None, activations=include_activations,
                      embeddings=include_embeddings, jams=jams, audacity=audacity,
                      viz_dir=_output_dir(visualize, "./viz"), viz_format=viz_format,
                      sonif_dir=_output_dir(sonify, "./sonif"),
                      spec_dir=Path(spec_dir) if keep_byproducts else None,
                      demix_dir=Path(demix_dir) if keep_byproducts and demix else None)
    options = AnalyzeOptions(model=model, key_model=key_model,
                             demix_model=("classic" if demix is True else str(demix)) if demix else None,
                             device=device, meters=tuple(int(m) for m in meters), min_bpm=float(min_bpm),
                             max_bpm=float(max_bpm), plan=plan, skip_existing=skip_existing)
    load_engines(options)  # every model, device and setting is checked before any work starts
    files = expand_inputs([paths] if isinstance(paths, (str, os.PathLike)) else list(paths))
    if single:
        done = [_process((files[0], output_stems(files)[files[0]]), options)]
    else:
        done, failures = run_analysis(files, options, jobs=(jobs or default_jobs()) if multiprocess else 1,
                                      progress=progress)
        if failures and errors == "raise":
            raise BatchError(done, failures)
        if failures:
            warnings.warn(f"{len(failures)} input(s) failed: " + "; ".join(f.message for f in failures),
                          stacklevel=2)
    if include_embeddings and any(r.embeddings is None for r in done):
        warnings.warn(f"model {model!r} has no embeddings; none were attached or written", stacklevel=2)
    return done[0] if single else done


def run_analysis(files: Sequence[Path], options: AnalyzeOptions, jobs: int = 1,
                 progress: bool = False) -> tuple[list[AnalysisResult], list[Failure]]:
    """Analyze ``files`` (already expanded) and write their outputs, going on past failures.

    Returns:
        ``(results, failures)``: results of the files that worked, in input order, and a
        :class:`~songscope.errors.Failure` (path, one-line message) per other file.
    """
    files = list(files)
    names = output_stems(files)
    items = [(f, names[f]) for f in files]
    results, failures = run_batch(functools.partial(_process, options=options), items,
                                  jobs=jobs, progress=progress)
    for failure in failures:
        failure.item = failure.item[0]
    return [r for r in results if r is not None], failures
