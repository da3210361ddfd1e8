"""What the API says about tracks, read from the catalog: rows filtered through the query language
of :mod:`songscope.library.query`, analyses, stems, cover matches and waveform envelopes."""

from __future__ import annotations

import functools
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..library.catalog import Catalog
from ..library.query import compile_query
from ..result import CoverMatch

__all__ = ["analysis", "cover_matches", "filter_query", "list_tracks", "stem_files", "track_detail",
           "waveform"]

def _number(value: float) -> str:
    if not math.isfinite(value):
        raise ConfigError(f"filter: {value} is not a finite number")
    return f"{value:.6f}"


def _quoted(value: str) -> str:
    for quote in ("'", '"'):
        if quote not in value:
            return f"{quote}{value}{quote}"
    raise ConfigError("filter: a value cannot hold both kinds of quotes")


def filter_query(q: str = "", bpm_min: float | None = None, bpm_max: float | None = None, key: str | None = None,
                 label: str | None = None, duration_min: float | None = None, duration_max: float | None = None,
                 time_signature: str | None = None) -> tuple[str, list[Any]]:
    """The API's filters as one query of :mod:`songscope.library.query`, compiled.

    Args:
        q: a query in that language (may be empty). bpm_min, bpm_max: tempo range (BPM).
        key: e.g. ``"A minor"``. label: a section label the track must have. duration_min,
            duration_max: seconds. time_signature: e.g. ``"3/4"``.

    Returns:
        ``(SQL condition, parameters)`` for :meth:`Catalog.facts`.

    Raises:
        ConfigError: a bad query or value, in one line.
    """
    parts = []
    if q.strip():
        compile_query(q)  # its own errors first, quoting the text as the user wrote it
        parts.append(f"({q})")
    for field, op, value in (("bpm", ">=", bpm_min), ("bpm", "<=", bpm_max), ("duration", ">=", duration_min),
                             ("duration", "<=", duration_max)):
        if value is not None:
            parts.append(f"{field} {op} {_number(value)}")
    for field, op, text in (("key", "=", key), ("labels", "contains", label), ("time_signature", "=", time_signature)):
        if text:
            parts.append(f"{field} {op} {_quoted(text)}")
    return compile_query(" and ".join(parts))


def _row(facts: dict[str, Any], track_id: int) -> dict[str, Any]:
    return {"id": track_id, **facts, "labels": facts["labels"].split() if facts["labels"] else []}


def list_tracks(catalog: Catalog, where: str = "", params: list[Any] | tuple = (),
                limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of the catalog's facts (:data:`~songscope.library.catalog.FACT_COLUMNS` plus ``id``;
    ``labels`` as a list of section labels in order), in path order, at most ``limit``."""
    ids = catalog.track_ids()
    rows = itertools.islice(catalog.facts(where, params), limit)
    return [_row(facts, ids[facts["path"]]) for facts in rows]


def track_detail(catalog: Catalog, track_id: int) -> dict[str, Any] | None:
    """One track's row (see :func:`list_tracks`) with ``analyzed`` (an analysis exists), ``stems``
    (names of the stems of its latest separation) and ``covers`` (a cover fingerprint exists);
    None for an unknown id."""
    found = catalog.track(track_id)
    if found is None:
        return None
    path, sha = found
    facts = next(catalog.facts("path = ?", (path,)))
    return {**_row(facts, track_id), "analyzed": catalog.latest(sha, "analyze") is not None,
            "stems": sorted(stem_files(catalog, sha)), "covers": catalog.latest(sha, "covers-index") is not None}


def analysis(catalog: Catalog, sha256: str) -> dict[str, Any] | None:
    """The newest analysis of a content (the JSON of :class:`~songscope.result.AnalysisResult`), or None."""
    latest = catalog.latest(sha256, "analyze")
    return None if latest is None else latest[0]


def stem_files(catalog: Catalog, sha256: str) -> dict[str, Path]:
    """Stem name -> file of the newest separation of a content (empty without one)."""
    latest = catalog.latest(sha256, "separate")
    return {} if latest is None else {name: Path(path) for name, path in latest[0].items()}


def cover_matches(catalog: Catalog, sha256: str, count: int = 10) -> dict[str, Any]:
    """The recordings closest to this one in cover-fingerprint space.

    Uses the fingerprints of the model and settings of this content's newest ``covers-index``
    result; distances are cosine distances in [0, 2].

    Returns:
        ``{"model": model identity or None, "matches": [{"id", "path", "work", "distance"}, ...]}``,
        nearest first, at most ``count``, other contents only.
    """
    latest = catalog.latest(sha256, "covers-index")
    if latest is None:
        return {"model": None, "matches": []}
    _, model, settings = latest
    hashes, vectors = catalog.vectors("covers-index", model, settings)
    if sha256 not in hashes:
        return {"model": model, "matches": []}
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    distances = 1.0 - unit @ unit[hashes.index(sha256)]
    ids = catalog.track_ids()
    first_path: dict[str, str] = {}
    for path, sha in catalog.tracks():
        first_path.setdefault(sha, path)
    matches = []
    for index in np.argsort(distances, kind="stable"):
        sha = hashes[index]
        if sha == sha256 or sha not in first_path:
            continue
        path = first_path[sha]
        match = CoverMatch(path, Path(path).stem, float(distances[index]))
        matches.append({"id": ids[path], **match.to_dict()})
        if len(matches) == count:
            break
    return {"model": model, "matches": matches}


@functools.lru_cache(maxsize=32)
def waveform(path: str, sha256: str, points: int) -> dict[str, Any]:
    """A file's peak envelope for drawing: the largest |sample| of the channel mean in each of
    about ``points`` equal columns, at the file's own rate (resampling would shave off the
    transients). Streams the file, so memory does not grow with its length; cached per content.

    Args:
        path: the audio file. sha256: its content hash (part of the cache key). points: columns wanted.

    Returns:
        ``{"duration": s, "times": [column centre (s), ...], "peaks": [max |sample|, ...]}``.
    """
    from ..audio.decode import iter_blocks
    from ..audio.signal import fit_channels

    meta, blocks = iter_blocks(path)
    hop = max(1, meta.frames // points)
    peaks, rest = [], np.zeros(0, np.float32)
    for block in blocks:
        mono = np.concatenate([rest, fit_channels(block, 1)[0]])
        usable = len(mono) // hop * hop
        peaks.append(np.abs(mono[:usable]).reshape(-1, hop).max(axis=1))
        rest = mono[usable:]
    envelope = np.concatenate(peaks).astype(np.float64)
    times = (np.arange(len(envelope)) + 0.5) * hop / meta.sample_rate
    return {"duration": round(meta.duration, 4), "times": np.round(times, 4).tolist(),
            "peaks": np.round(envelope, 4).tolist()}
