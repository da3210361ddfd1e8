"""Cover identification from audio: build and extend reference stores, calibrate them, and find
the references of queries (``songscope covers index / add / calibrate / identify`` and
:func:`songscope.identify`).

Every batch embeds its files with one ``covers`` model (worker processes with ``jobs``), goes on
past files it cannot use and lists them at the end (:class:`~songscope.errors.Failure`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from ..errors import BatchError, ConfigError, Failure, InputError, SongscopeError
from ..models.family import Engine
from ..result import CoverMatch, Identification
from .calibration import Calibration, fit_calibration
from .store import CoverStore, Performance, existing_store, is_store, update_store
from .works import WorkTable, read_works

__all__ = ["CalibrationReport", "StoreReport", "add", "calibrate", "embed_files", "identify", "index"]

#: Negative (different-work) pairs whose re-ranking distance calibration computes at most.
_RERANK_NEGATIVES = 2000


@dataclass
class StoreReport:
    """What ``index`` / ``add`` did: files ``added`` and ``skipped`` (content already in the store,
    or given twice), ``failures``, and the store's size afterwards."""

    store: Path
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    performances: int = 0
    works: int = 0


@dataclass
class CalibrationReport:
    """What ``calibrate`` fitted (``cosine``, and ``rerank`` for models with a re-ranker) and the
    validation files it could not use."""

    calibrations: dict[str, Calibration]
    used: int = 0
    failures: list[Failure] = field(default_factory=list)


class _Item(NamedTuple):
    """A file to embed, with its content hash and work (printed as its path in failures)."""

    path: Path
    sha256: str = ""
    work: str = ""

    def __str__(self) -> str:
        return str(self.path)


@functools.lru_cache(maxsize=2)
def _engine(model: str, device: str | None) -> Engine:
    from ..models.registry import load_engine

    return load_engine("covers", model, device)


def _hash(path: Path) -> str:
    from ..models.checkpoints import sha256_of

    try:
        return sha256_of(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None


def _embed(item: _Item, model: str, device: str | None) -> Performance:
    """Embed one file (runs in a worker process).

    Raises:
        AudioError: unreadable, silent, or too short for the model.
    """
    from ..audio.decode import require_music
    from ..audio.signal import decode

    path, sha, work = item
    engine = _engine(model, device)
    audio = decode(path, engine.views)
    view = engine.views[0]
    require_music(audio.mono(view.sample_rate), view.sample_rate, "cover identification", path)
    embedding = engine.predict(audio)
    sequence = None if embedding.sequence is None else np.asarray(embedding.sequence, np.float16)
    return Performance(sha, str(path), work, audio.duration, np.asarray(embedding.vector, np.float32), sequence)


def _listed(path: Path) -> dict[Path, str]:
    """Audio file -> work of a CoverHunterMPS list (``full.txt``, ``dataset.txt``: the ``wav``
    and ``work`` fields of each line). Speed variants (``perf`` starting ``sp_``, which ``covers
    features`` writes) are left out: a store holds the recordings themselves.

    Raises:
        InputError: an unreadable list, or a line without ``wav`` or ``work``.
    """
    from .dataset import read_list, resolve_audio

    works = {}
    for number, row in enumerate(read_list(path), 1):
        if str(row.get("perf", "")).startswith("sp_"):
            continue
        if not row.get("wav") or row.get("work") in (None, ""):
            raise InputError(f"{path}: line {number} has no 'wav' or 'work' field")
        works[resolve_audio(str(row["wav"]), path.parent)] = str(row["work"])
    return works


def _collect(paths: Sequence[str | Path]) -> tuple[list[Path], list[Failure], dict[Path, str]]:
    """The audio files of ``paths`` (folders searched; ``.txt`` files read as CoverHunterMPS
    lists), the paths that are missing, empty or unreadable, and the works the lists give."""
    from ..library.inputs import expand_inputs

    files, failures, listed = [], [], {}
    for path in map(Path, paths):
        try:
            if path.suffix == ".txt" and path.is_file():
                works = _listed(path)
                listed.update(works)
                files.extend(works)
            else:
                files.extend(expand_inputs([path]))
        except InputError as exc:
            failures.append(Failure(path, str(exc), exc.exit_code))
    return list(dict.fromkeys(files)), failures, listed


def _run(items: list[_Item], model: str, device: str | None, jobs: int, progress: bool,
         desc: str) -> tuple[list[Performance], list[Failure]]:
    from ..library.runner import run_batch

    results, failures = run_batch(functools.partial(_embed, model=model, device=device), items, jobs=jobs,
                                  progress=progress, desc=desc)
    for failure in failures:
        failure.item = failure.item.path
    return [r for r in results if r is not None], failures


def embed_files(paths: Sequence[str | Path], model: str = "classic", device: str | None = None, jobs: int = 1,
                progress: bool = False) -> tuple[list[Performance], list[Failure]]:
    """Embed audio files and folders with a ``covers`` model.

    Returns:
        ``(performances, failures)``: one :class:`~songscope.covers.store.Performance` per file that
        could be embedded (``work`` empty), in the order of the files, and one failure per other.

    Raises:
        ConfigError / CheckpointError: the model.
    """
    _engine(model, device)
    files, failures, _ = _collect(paths)
    done, failed = _run([_Item(f) for f in files], model, device, jobs, progress, "embedding")
    return done, failures + failed


def _assign_works(files: list[Path], hashes: dict[Path, str], table: WorkTable | None, taken: set[str],
                  listed: dict[Path, str]) -> tuple[dict[Path, str], list[Failure]]:
    """Work of every file: from a list it came from, else from the table (a file without a row
    fails), else the file's track name, made unique with 8 hex digits of its content hash when
    another file has it already."""
    from ..library.inputs import track_name

    works, failures = {}, []
    for path in files:
        if path in listed:
            work = listed[path]
        elif table is not None:
            work = table.work_of(path)
            if work is None:
                failures.append(Failure(path, f"{path}: unknown work: no row for {path.name} in {table.source}", 2))
                continue
        else:
            work = track_name(path)
            if work in taken:
                work = f"{work}.{hashes[path][:8]}"
            taken.add(work)
        works[path] = work
    return works, failures


def _check_rerank(engine: Engine, rerank: int) -> None:
    if rerank < 0:
        raise ConfigError("--rerank must be 0 (off) or a number of candidates")
    if rerank and not hasattr(engine, "rerank_distance"):
        raise ConfigError(f"model {engine.name!r} ({engine.family}) has no re-ranker; --rerank needs the classic engine")


def index(paths: Sequence[str | Path], refs: str | Path, works: str | Path | None = None, model: str = "classic",
          centroids: bool = False, jobs: int = 1, device: str | None = None, progress: bool = False) -> StoreReport:
    """Embed every performance of ``paths`` into the store ``refs`` (created when absent).

    Files whose content the store holds already are skipped, so indexing again adds only what is
    new; the store changes in one atomic step at the end.

    Args:
        works: a works CSV (:mod:`songscope.covers.works`); without it each file is its own work.
        model: the ``covers`` model (a store holds the embeddings of one model only).
        centroids: also keep one embedding per work (the mean of its unit vectors, renormalised).

    Raises:
        ConfigError: an unknown model, or a store of another model. InputError: a bad works table,
            or a folder that is not a store.
    """
    from ..library.jobs import model_identity

    refs = Path(refs)
    identity = model_identity(model)
    existing = existing_store(refs, load_index=False)
    known: set[str] = set()
    taken: set[str] = set()
    try:
        if existing is not None:
            existing.check_model(identity)
        _engine(model, device)
        table = read_works(works) if works is not None else None
        files, failures, listed = _collect(paths)
        hashes: dict[Path, str] = {}
        for path in files:
            try:
                hashes[path] = _hash(path)
            except InputError as exc:
                failures.append(Failure(path, str(exc), exc.exit_code))
        if existing is not None:
            known, taken = existing.known_hashes(list(hashes.values())), existing.work_names()
    finally:
        if existing is not None:
            existing.close()
    report = StoreReport(refs, failures=failures)
    todo = []
    for path, sha in hashes.items():
        if sha in known:
            report.skipped.append(str(path))
        else:
            known.add(sha)
            todo.append(path)
    assigned, unknown = _assign_works(todo, hashes, table, taken, listed)
    failures.extend(unknown)
    done, failed = _run([_Item(p, hashes[p], w) for p, w in assigned.items()], model, device, jobs, progress, "indexing")
    failures.extend(failed)
    report.added = [p.path for p in done]
    manifest = existing.manifest if existing is not None else {}
    if done or (existing is not None and centroids and not manifest.get("centroids")):
        with update_store(refs, model, identity, centroids) as update:
            update.add(done)
        manifest = update.manifest
    report.performances, report.works = int(manifest.get("performances", 0)), int(manifest.get("works", 0))
    return report


def add(refs: str | Path, paths: Sequence[str | Path], works: str | Path | None = None, jobs: int = 1,
        device: str | None = None, progress: bool = False) -> StoreReport:
    """Add performances (of known or new works) to an existing store, with the store's model;
    idempotent (content already there is skipped) and atomic (see :func:`index`).

    Raises:
        InputError: ``refs`` is not a store.
    """
    if not is_store(refs):
        raise InputError(f"{refs}: not a cover store (build one with `songscope covers index`)")
    with CoverStore(refs, load_index=False) as store:
        model = store.model
    return index(paths, refs, works, model, False, jobs, device, progress)


def _store_engine(store: CoverStore, model: str | None, device: str | None) -> Engine:
    """The store's model (or ``model``, which must be the same), loaded."""
    from ..library.jobs import model_identity

    model = model or store.model
    store.check_model(model_identity(model))
    return _engine(model, device)


def _matches(store: CoverStore, engine: Engine, query: Performance, k: int, centroids: bool,
             rerank: int) -> list[CoverMatch]:
    """The ``k`` best references of one embedded query (see :func:`identify`)."""
    distances, ids = store.search(query.vector[None], max(k, rerank), centroids)
    distances, ids = distances[0], ids[0]
    if centroids:
        members = store.of_works(ids)
        ids = np.array([members[w][int(np.argmax(store.vectors(members[w]) @ query.vector))] for w in ids])
    rows = store.performances(ids)
    kind = "cosine"
    if rerank:
        sequence = np.asarray(query.sequence, np.float32)
        cosine = 1.0 - store.vectors(ids) @ query.vector if centroids else distances
        distances = np.array([engine.rerank_distance(sequence, store.sequence(row), float(c))
                              for row, c in zip(rows, cosine)])
        order = np.argsort(distances, kind="stable")
        rows, distances, kind = [rows[i] for i in order], distances[order], "rerank"
    calibration = store.calibration(kind)
    return [CoverMatch(row["path"], row["work"], float(d), None if calibration is None else
                       float(calibration.confidence(d))) for row, d in zip(rows[:k], distances[:k])]


def identify(queries: str | Path | Sequence[str | Path], refs: str | Path, k: int = 10, centroids: bool = False,
             rerank: int = 0, jobs: int = 1, device: str | None = None, model: str | None = None,
             progress: bool = False) -> list[Identification]:
    """The references nearest to each query recording, best first.

    Args:
        queries: audio files and/or folders. refs: a store folder. k: matches per query.
        centroids: rank works (their centroids) instead of performances; each match then names the
            work's performance nearest to the query.
        rerank: re-order the ``max(rerank, k)`` nearest by the model's re-ranker (the classic
            engine's Qmax fused with the cosine distance); distances are then the re-ranker's. 0: off.
        model: the store's model by default; another one is refused.

    Returns:
        one :class:`~songscope.result.Identification` per query file, in order. A query that is
        itself in the store finds itself (distance 0).

    Raises:
        BatchError: some queries failed (``results`` holds the others). ConfigError: a store of
            another model, ``centroids`` on a store without them, ``rerank`` for a model without
            a re-ranker. InputError: not a store.
    """
    if k < 1:
        raise ConfigError("k must be at least 1")
    one = isinstance(queries, (str, Path))
    with CoverStore(refs) as store:
        engine = _store_engine(store, model, device)
        _check_rerank(engine, rerank)
        if centroids:
            store.centroid_index()
        files, failures, _ = _collect([queries] if one else list(queries))
        done, failed = _run([_Item(f) for f in files], store.model, device, jobs, progress, "identifying")
        results = [Identification(q.path, _matches(store, engine, q, k, centroids, rerank)) for q in done]
    failures += failed
    if failures:
        raise BatchError(results, failures)
    return results


def calibrate(refs: str | Path, audio: Sequence[str | Path], works: str | Path | None = None, jobs: int = 1,
              device: str | None = None, progress: bool = False) -> CalibrationReport:
    """Fit the store's confidence curves on validation recordings of known works and save them.

    Every pair of validation recordings is a sample (same work or not) of the cosine distance
    (and, for a model with a re-ranker, of its distance: all same-work pairs and at most 2000
    others, chosen with a fixed seed); see :mod:`songscope.covers.calibration`. Use recordings
    that are not in the store.

    Args:
        audio: validation audio files, folders and CoverHunterMPS lists (which give their works).
        works: a works CSV for the files that no list names.

    Raises:
        InputError: no usable pair (fewer than two works, or no work with two recordings).
    """
    from ..library.jobs import model_identity

    table = read_works(works) if works is not None else None
    with CoverStore(refs) as store:
        engine = _store_engine(store, None, device)
        model = store.model
    files, failures, listed = _collect(audio)
    assigned, unknown = _assign_works(files, {}, table, set(), listed)
    done, failed = _run([_Item(p, "", w) for p, w in assigned.items()], model, device, jobs, progress, "calibrating")
    failures += unknown + failed
    if len(done) < 2:
        raise InputError(f"calibration needs at least two usable recordings (got {len(done)})")
    vectors = np.stack([p.vector for p in done])
    labels = np.array([p.work for p in done])
    first, second = np.triu_indices(len(done), 1)
    same = labels[first] == labels[second]
    calibrations = {"cosine": fit_calibration(1.0 - np.sum(vectors[first] * vectors[second], axis=1), same)}
    if hasattr(engine, "rerank_distance"):
        calibrations["rerank"] = _fit_rerank(engine, done, labels)
    with update_store(refs, model, model_identity(model)) as update:
        for kind, calibration in calibrations.items():
            update.set_calibration(kind, calibration)
    return CalibrationReport(calibrations, len(done), failures)


def _fit_rerank(engine: Any, done: list[Performance], labels: np.ndarray) -> Calibration:
    """Calibrate the re-ranker's (asymmetric) distance on ordered validation pairs."""
    query, reference = np.nonzero(~np.eye(len(done), dtype=bool))
    same = labels[query] == labels[reference]
    negatives = np.flatnonzero(~same)
    if len(negatives) > _RERANK_NEGATIVES:
        negatives = np.random.default_rng(0).choice(negatives, _RERANK_NEGATIVES, replace=False)
    chosen = np.r_[np.flatnonzero(same), negatives]
    distances = []
    for i in chosen:
        a, b = done[query[i]], done[reference[i]]
        cosine = 1.0 - float(np.asarray(a.vector) @ np.asarray(b.vector))
        try:
            distances.append(engine.rerank_distance(np.asarray(a.sequence, np.float32),
                                                    np.asarray(b.sequence, np.float32), cosine))
        except SongscopeError as exc:
            raise InputError(f"{done[query[i]].path}: {exc}") from None
    return fit_calibration(np.array(distances), same[chosen])
