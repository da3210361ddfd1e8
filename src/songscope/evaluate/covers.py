"""Cover-song identification scored with query and reference sets (``songscope evaluate covers``).

The sets are the same tracks (every track queries all others) or two sets, as CoverHunterMPS's
``eval_testset`` takes them: then a performance present in both is left out of its own ranking.
Which pairs those are is read from a ``query_in_ref`` file in CoverHunterMPS's format (JSON
``{"query_in_ref": [[query index, reference index], ...]}``, what its ``tools/make_query_in_ref.py``
writes; indices in the order of the sets' names) or, without one, found by name (a query and a
reference with the same track name are one performance).

A set is an ``.npz`` of ``names`` with ``embeddings`` (n, d; cosine distance) or ``distances``,
or, with ``-m MODEL``, audio that the model embeds. The distance matrix can be saved
(``query_names``, ``names``, ``distances`` (queries x references), ``query_in_ref`` (k, 2)), and
read back as the reference set alone; a t-SNE map of the queries (each placed by its row of
distances, as CoverHunterMPS's ``eval_testset`` does) marks test-only works with circles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..atomic import atomic_path
from ..errors import InputError
from .annotations import track_name
from .metrics import ranking_metrics

if TYPE_CHECKING:
    from .run import Evaluation

__all__ = ["CoverSet", "evaluate_covers", "read_query_in_ref", "save_tsne"]


@dataclass
class CoverSet:
    """Tracks with their unit ``embeddings`` (n, d), or a precomputed ``distances`` matrix whose
    rows are ``query_names`` and columns ``names``."""

    names: list[str]
    embeddings: np.ndarray | None = None
    distances: np.ndarray | None = None
    query_names: list[str] | None = None


def read_set(path: str | Path) -> CoverSet:
    """A set from an ``.npz`` (see the module docstring).

    Raises:
        InputError: unreadable, or without ``names`` and ``embeddings`` / ``distances``.
    """
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .npz ({exc})") from None
    if "names" not in data or not ({"distances", "embeddings"} & set(data.files)):
        raise InputError(f"{path}: needs 'names' and 'distances' or 'embeddings' arrays")
    names = [track_name(str(n)) for n in data["names"]]
    if "embeddings" in data:
        e = np.asarray(data["embeddings"], float)
        return CoverSet(names, e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12))
    queries = [track_name(str(n)) for n in data["query_names"]] if "query_names" in data else names
    distances = np.asarray(data["distances"], float)
    if distances.shape != (len(queries), len(names)):
        raise InputError(f"{path}: distances of shape {distances.shape} for {len(queries)} x {len(names)} names")
    return CoverSet(names, distances=distances, query_names=queries)


def _embedded(audio: str | Path, model: str, device: str | None, jobs: int) -> CoverSet:
    """A set from audio files or folders, embedded by ``model`` (files it cannot embed are errors)."""
    from ..covers.search import embed_files
    from ..library.inputs import track_name as audio_track

    done, failures = embed_files([audio], model, device, jobs)
    if failures:
        raise InputError(f"{len(failures)} file(s) could not be embedded, e.g. {failures[0].message}")
    return CoverSet([audio_track(Path(p.path)) for p in done], np.stack([p.vector for p in done]).astype(float))


def read_query_in_ref(path: str | Path) -> list[tuple[int, int]]:
    """(query index, reference index) pairs of a CoverHunterMPS ``query_in_ref`` file.

    Raises:
        InputError: not such a file.
    """
    path = Path(path)
    try:
        pairs = json.loads(path.read_text(encoding="utf-8"))["query_in_ref"]
        return [(int(q), int(r)) for q, r in pairs]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a query_in_ref file ({type(exc).__name__}: {exc})") from None


def _skip(queries: list[str], references: list[str], pairs: Sequence[tuple[int, int]] | None) -> np.ndarray:
    """(nq, nr) bool: the pairs that are one performance (``pairs``, else equal names)."""
    if pairs is None:
        return np.array(queries)[:, None] == np.array(references)[None, :]
    skip = np.zeros((len(queries), len(references)), dtype=bool)
    for q, r in pairs:
        if not (0 <= q < len(queries) and 0 <= r < len(references)):
            raise InputError(f"query_in_ref pair ({q}, {r}) outside {len(queries)} queries x {len(references)} references")
        skip[q, r] = True
    return skip


def save_tsne(distances: np.ndarray, works: Sequence[str], test_works: set[str], path: str | Path) -> Path:
    """A t-SNE map (PNG, PDF or SVG by ``path``'s ending) of the queries, each placed by its row of
    ``distances`` (nq, nr); one colour and marker per work, test-only works circled in black.

    Raises:
        InputError: scikit-learn missing, or fewer than 5 queries.
    """
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise InputError("the t-SNE plot needs scikit-learn: pip install 'songscope[covers]'") from None
    import matplotlib
    from matplotlib.figure import Figure

    if len(distances) < 5:
        raise InputError("a t-SNE plot needs at least 5 queries")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # OpenMP threads only spin against each other on a map this small
        points = TSNE(n_components=2, init="random", random_state=0,
                      perplexity=min(30.0, (len(distances) - 1) / 3)).fit_transform(np.asarray(distances, float))
    works = np.asarray(works)
    figure = Figure(figsize=(10, 10))
    axes = figure.add_subplot()
    colours = matplotlib.colormaps["tab20"]
    for i, work in enumerate(dict.fromkeys(works)):
        mine = points[works == work]
        axes.scatter(mine[:, 0], mine[:, 1], color=colours(i % 20), marker="os^pDvx"[i // 20 % 7], label=work, zorder=2)
        if work in test_works:
            axes.scatter(mine[:, 0], mine[:, 1], s=220, facecolors="none", edgecolors="black", zorder=1)
    axes.set_title("t-SNE of the query-reference distances" + (" (circled: test-only works)" if test_works else ""))
    if len(set(works)) <= 40:
        axes.legend(fontsize="small", ncol=2, loc="best")
    with atomic_path(path) as tmp:
        figure.savefig(tmp)
    return Path(path)


def evaluate_covers(works: str | Path, references: str | Path, queries: str | Path | None = None,
                    query_in_ref: str | Path | None = None, model: str | None = None, device: str | None = None,
                    jobs: int = 1, distances_out: str | Path | None = None,
                    tsne: str | Path | None = None) -> Evaluation:
    """mAP, MR1 and P@10 of queries against references.

    Args:
        works: a works CSV (:mod:`songscope.covers.works`; a ``songscope synth`` manifest is one).
        references, queries: sets (see the module docstring); ``queries`` None: the references
            query each other.
        query_in_ref: a CoverHunterMPS ``query_in_ref`` file (distinct sets only).
        model: embed audio sets with this ``covers`` model (``-m``); else the sets are ``.npz``.
        distances_out: save the distance matrix (``.npz``). tsne: save the t-SNE map.

    Raises:
        InputError: unreadable inputs, or fewer than two tracks with a known work.
    """
    from ..covers.works import read_works
    from .run import Evaluation

    table = read_works(works)
    known = table.by_name()
    load = (lambda s: _embedded(s, model, device, jobs)) if model is not None else read_set
    ref = load(references)
    query = load(queries) if queries is not None else None
    if query is None and ref.distances is not None:
        query_names, distances = ref.query_names, ref.distances
    elif ref.embeddings is None or (query is not None and query.embeddings is None):
        raise InputError("query and reference sets given apart need embeddings, not distance matrices")
    else:
        query_names = (query or ref).names
        distances = 1.0 - (query or ref).embeddings @ ref.embeddings.T
    pairs = read_query_in_ref(query_in_ref) if query_in_ref is not None else None
    skip = _skip(query_names, ref.names, pairs)
    rows = [i for i, n in enumerate(query_names) if n in known]
    cols = [j for j, n in enumerate(ref.names) if n in known]
    if len(rows) < 1 or len(cols) < 2:
        raise InputError(f"fewer than two tracks of the sets have a work in {works}")
    kept = distances[np.ix_(rows, cols)]
    query_works = [known[query_names[i]] for i in rows]
    metrics = ranking_metrics(kept, query_works, [known[ref.names[j]] for j in cols], skip[np.ix_(rows, cols)])
    if distances_out is not None:
        with atomic_path(distances_out) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, query_names=np.array(query_names), names=np.array(ref.names), distances=distances,
                     query_in_ref=np.argwhere(skip).astype(np.int64))
    if tsne is not None:
        save_tsne(kept, query_works, table.test_works, tsne)
    unmatched = sorted({n for n in (*query_names, *ref.names) if n not in known})
    return Evaluation("covers", {"all": metrics}, metrics, sorted(set(known) - set(ref.names) - set(query_names)),
                      unmatched)
