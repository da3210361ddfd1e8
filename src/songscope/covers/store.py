"""The reference store of ``songscope covers``: the embeddings of known performances, their works
and files, searchable by cosine similarity.

Layout of a store folder ``REFS``::

    REFS/CURRENT                        the live generation's name (one line), replaced atomically
    REFS/lock                           held (flock) by the one process that writes the store
    REFS/g000003/manifest.json          format, model (name and identity), dimension, counts, index, calibration
    REFS/g000003/performances.faiss     FAISS IndexFlatIP over the unit vectors; row i = performance i
    REFS/g000003/centroids.faiss        (stores made with centroids) one unit vector per work; row j = work j
    REFS/g000003/table.sqlite           works (id, work) and performances (id, sha256, path, work, duration,
                                        where its re-ranking sequence lies)
    REFS/g000003/sequences-g000002.npy  re-ranking sequences (float16 rows) of the performances that
                                        generation 2 added; earlier segments are hard links

Index: an exact inner-product index (``IndexFlatIP``): on unit vectors the inner product is the
cosine similarity, and cosine distance = 1 - inner product. Search time grows linearly with the
store (measured by ``benchmarks/covers_index_scale.py``: milliseconds per query at a million
128-dimensional vectors); nothing is approximated, so no recall is lost.

Every change (``covers index`` / ``add`` / ``calibrate``) writes a complete new generation folder
under a temporary name (the table copied through SQLite's backup API, the index read, extended and
written again, earlier sequence segments hard-linked), makes it durable (fsync), renames it, and
then replaces ``CURRENT`` atomically. A change that is interrupted at any point leaves ``CURRENT``
naming the old generation, which no change ever modifies: the store is as it was, and the next
change removes the leftovers. Nothing is pickled: FAISS's own format, SQLite, JSON and ``.npy``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..atomic import write_text
from ..errors import ConfigError, InputError, OutputError
from ..version import __version__
from .calibration import Calibration

__all__ = ["FORMAT", "CoverStore", "Performance", "StoreUpdate", "existing_store", "faiss_module", "is_store",
           "update_store"]

#: ``format`` of a store's manifest, and the layout version this songscope writes and reads.
FORMAT = "songscope-cover-store"
FORMAT_VERSION = 1
_CURRENT = "CURRENT"
_MANIFEST = "manifest.json"
_INDEX = "performances.faiss"
_CENTROIDS = "centroids.faiss"
_TABLE = "table.sqlite"
_SCHEMA = (
    "CREATE TABLE works (id INTEGER PRIMARY KEY, work TEXT NOT NULL UNIQUE)",
    """CREATE TABLE performances (id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, path TEXT NOT NULL,
           work INTEGER NOT NULL REFERENCES works (id), duration REAL, segment TEXT, offset INTEGER,
           length INTEGER, added REAL NOT NULL)""",
    "CREATE INDEX performances_work ON performances (work)",
)


def faiss_module() -> Any:
    """The ``faiss`` module, or a one-line install hint."""
    try:
        import faiss
    except ImportError:
        raise ConfigError("cover stores need FAISS: pip install 'songscope[covers]' (faiss-cpu)") from None
    return faiss


@dataclass
class Performance:
    """One embedded recording to put in a store.

    Attributes:
        sha256: of the file's content (a store holds each content once). path: the file.
        work: its work id. duration: seconds. vector: (D,) unit float32.
        sequence: (N, F) frames for the model's re-ranker, or None.
    """

    sha256: str
    path: str
    work: str
    duration: float
    vector: np.ndarray
    sequence: np.ndarray | None = None


def is_store(root: str | Path) -> bool:
    """True when ``root`` is a store folder (it has a ``CURRENT`` file)."""
    return (Path(root) / _CURRENT).is_file()


def existing_store(root: str | Path, load_index: bool = True) -> CoverStore | None:
    """The store at ``root``, or None where a new one may be made (no folder, an empty one, or the
    lock and leftovers of a first build that did not finish).

    Raises:
        InputError: a file, or a folder holding other things.
    """
    root = Path(root)
    if is_store(root):
        return CoverStore(root, load_index)
    if root.exists() and (not root.is_dir() or any(p.name != "lock" and not p.name.startswith(".g")
                                                   for p in root.iterdir())):
        raise InputError(f"{root}: not a cover store; give a new or empty folder")
    return None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CoverStore:
    """The current generation of a store, opened read-only (see the module docstring).

    Opening holds the store's lock (shared) while it reads, so no writer retires the generation
    half-way; afterwards the open files stay readable whatever writers do.

    Args:
        root: the store folder.
        load_index: read the FAISS index (searching needs it; metadata does not).
        lock: take the shared lock (False when the caller holds the exclusive one).

    Attributes:
        root: the store folder. folder: the generation's folder. manifest: its manifest.
        index: the FAISS performance index (None unless loaded).

    Raises:
        InputError: not a store, a store of a newer layout, or damaged files.
    """

    def __init__(self, root: str | Path, load_index: bool = True, lock: bool = True):
        self.root = Path(root)
        with _locked(self.root, fcntl.LOCK_SH) if lock else contextlib.nullcontext():
            self.folder = self.root / _read_current(self.root)
            try:
                self.manifest = json.loads((self.folder / _MANIFEST).read_text(encoding="utf-8"))
                self.index = faiss_module().read_index(str(self.folder / _INDEX)) if load_index else None
                self._centroids = faiss_module().read_index(str(self.folder / _CENTROIDS)) \
                    if load_index and self.manifest.get("centroids") else None
                self.db = sqlite3.connect(f"file:{self.folder / _TABLE}?mode=ro", uri=True)
                self.db.execute("SELECT count(*) FROM performances").fetchone()
            except (OSError, RuntimeError, sqlite3.Error, json.JSONDecodeError) as exc:
                raise InputError(f"{self.root}: damaged cover store ({type(exc).__name__}: {exc})") from None
        if self.manifest.get("format") != FORMAT or int(self.manifest.get("format_version", 0)) > FORMAT_VERSION:
            raise InputError(f"{self.root}: not a cover store this songscope reads (format "
                             f"{self.manifest.get('format')} {self.manifest.get('format_version')})")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "CoverStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def model(self) -> str:
        """The ``-m`` value the store's embeddings come from."""
        return str(self.manifest["model"])

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def has_centroids(self) -> bool:
        return bool(self.manifest.get("centroids"))

    def __len__(self) -> int:
        return int(self.manifest.get("performances", 0))

    def check_model(self, identity: str) -> None:
        """ConfigError (one line) unless the store was built by the model of ``identity``
        (:func:`songscope.library.jobs.model_identity`)."""
        if identity != self.manifest["model_identity"]:
            raise ConfigError(f"{self.root}: the store holds embeddings of model {self.model!r} "
                              f"({self.manifest['model_identity']}), not of {identity}; use a store of that model "
                              "or build a new one")

    def calibration(self, kind: str) -> Calibration | None:
        """The store's calibration of ``cosine`` or ``rerank`` distances, None when not calibrated."""
        data = (self.manifest.get("calibration") or {}).get(kind)
        return None if data is None else Calibration.from_dict(data)

    def centroid_index(self) -> Any:
        """The FAISS index of the work centroids (row j = work j).

        Raises:
            ConfigError: the store was built without centroids.
        """
        if self._centroids is None:
            raise ConfigError(f"{self.root}: the store has no work centroids; build it with "
                              "`songscope covers index --centroids`")
        return self._centroids

    def search(self, vectors: np.ndarray, k: int, centroids: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest performances (or works, with ``centroids``) of each query vector.

        Args:
            vectors: (Q, D) unit float32 queries.

        Returns:
            ``(distances, ids)``: (Q, k') cosine distances, ascending, and row ids (performance or
            work ids), ``k' = min(k, entries)``.

        Raises:
            ConfigError: ``centroids`` on a store built without them.
        """
        index = self.centroid_index() if centroids else self.index
        count = min(int(k), int(index.ntotal))
        if count < 1:
            return np.zeros((len(vectors), 0)), np.zeros((len(vectors), 0), dtype=np.int64)
        similarity, ids = index.search(np.ascontiguousarray(vectors, dtype=np.float32), count)
        return 1.0 - similarity.astype(np.float64), ids.astype(np.int64)

    def performances(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """Rows of performances by id, in the order given: ``id``, ``sha256``, ``path``, ``work``,
        ``duration``, ``segment``, ``offset``, ``length``."""
        wanted = [int(i) for i in ids]
        rows = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                    f"SELECT p.id, p.sha256, p.path, w.work, p.duration, p.segment, p.offset, p.length "
                    f"FROM performances p JOIN works w ON w.id = p.work WHERE p.id IN ({marks})", chunk):
                rows[row[0]] = dict(zip(("id", "sha256", "path", "work", "duration", "segment", "offset", "length"),
                                        row))
        return [rows[i] for i in wanted]

    def of_works(self, work_ids: Sequence[int]) -> dict[int, list[int]]:
        """Work id -> the ids of its performances."""
        out: dict[int, list[int]] = {int(w): [] for w in work_ids}
        marks = ",".join("?" * len(out))
        for pid, work in self.db.execute(f"SELECT id, work FROM performances WHERE work IN ({marks})", list(out)):
            out[work].append(pid)
        return out

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """(len(ids), D) stored unit vectors of performances."""
        return np.stack([self.index.reconstruct(int(i)) for i in ids]) if len(ids) else np.zeros((0, self.dim))

    def sequence(self, row: dict[str, Any]) -> np.ndarray | None:
        """The re-ranking sequence (N, F) float32 of a performance row, None when it has none."""
        if row["segment"] is None:
            return None
        segment = np.load(self.folder / row["segment"], mmap_mode="r")
        return np.asarray(segment[row["offset"]:row["offset"] + row["length"]], dtype=np.float32)

    def known_hashes(self, hashes: Sequence[str]) -> set[str]:
        """Those of ``hashes`` whose content the store already holds."""
        found: set[str] = set()
        for start in range(0, len(hashes), 500):
            chunk = list(hashes[start:start + 500])
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self.db.execute(f"SELECT sha256 FROM performances WHERE sha256 IN ({marks})",
                                                       chunk))
        return found

    def work_names(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT work FROM works")}


def _read_current(root: Path) -> str:
    try:
        name = (root / _CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        raise InputError(f"{root}: not a cover store (no {_CURRENT} file; build one with `songscope covers index`)") \
            from None
    if not name or "/" in name or not (root / name).is_dir():
        raise InputError(f"{root}: damaged cover store ({_CURRENT} names {name!r}, which is missing)")
    return name


class StoreUpdate:
    """A new generation being written (see :func:`update_store`): add performances, set the
    calibration; nothing is visible until the ``with`` block ends without an exception."""

    def __init__(self, root: Path, old: CoverStore | None, folder: Path, model: str, identity: str,
                 centroids: bool):
        self.root, self.old, self.folder = root, old, folder
        self.manifest: dict[str, Any] = dict(old.manifest) if old else {
            "format": FORMAT, "format_version": FORMAT_VERSION, "model": model, "model_identity": identity,
            "dim": None, "metric": "cosine (inner product of unit vectors)", "index": "IndexFlatIP",
            "centroids": bool(centroids), "calibration": None}
        self.manifest["centroids"] = bool(self.manifest["centroids"] or centroids)
        self.name = folder.name.lstrip(".").split(".")[0]
        self.new: list[Performance] = []

    def add(self, performances: Sequence[Performance]) -> None:
        """Queue performances (unit vectors of the store's dimension) for the new generation.

        Raises:
            ConfigError: a vector of another dimension than the store's.
        """
        for p in performances:
            dim = self.manifest["dim"] or int(p.vector.shape[0])
            if p.vector.shape != (dim,):
                raise ConfigError(f"{p.path}: embedding of {p.vector.shape[0]} dimensions; the store {self.root} "
                                  f"holds {dim}-dimensional ones (another model)")
            self.manifest["dim"] = dim
            self.new.append(p)

    def set_calibration(self, kind: str, calibration: Calibration) -> None:
        """Store the calibration of ``cosine`` or ``rerank`` distances."""
        self.manifest["calibration"] = {**(self.manifest.get("calibration") or {}), kind: calibration.to_dict()}

    def _table(self) -> sqlite3.Connection:
        path = self.folder / _TABLE
        db = sqlite3.connect(str(path), isolation_level=None)
        if self.old is not None:
            self.old.db.backup(db)
        else:
            for statement in _SCHEMA:
                db.execute(statement)
        return db

    def _segments(self) -> str | None:
        """Hard-link the old generation's sequence segments; write the new one (its file name)."""
        if self.old is not None:
            for segment in self.old.folder.glob("sequences-*.npy"):
                try:
                    os.link(segment, self.folder / segment.name)
                except OSError:
                    shutil.copy2(segment, self.folder / segment.name)
        sequences = [p.sequence for p in self.new if p.sequence is not None]
        if not sequences:
            return None
        name = f"sequences-{self.name}.npy"
        np.save(self.folder / name, np.concatenate(sequences).astype(np.float16))
        return name

    def _write(self) -> None:
        faiss = faiss_module()
        dim = self.manifest["dim"]
        if dim is None:
            raise InputError("nothing to store: no performance was embedded")
        db = self._table()
        segment = self._segments()
        index = faiss.read_index(str(self.old.folder / _INDEX)) if self.old else faiss.IndexFlatIP(dim)
        works = {name: wid for wid, name in db.execute("SELECT id, work FROM works")}
        touched: set[int] = set()
        offset, now = 0, time.time()
        first, known, rows = int(index.ntotal), len(works), []
        for i, p in enumerate(self.new):
            work = works.setdefault(p.work, len(works))
            touched.add(work)
            length = None if p.sequence is None else len(p.sequence)
            rows.append((first + i, p.sha256, p.path, work, p.duration, segment if length else None,
                         offset if length else None, length, now))
            offset += length or 0
        db.execute("BEGIN")
        db.executemany("INSERT INTO works (id, work) VALUES (?, ?)",
                       [(wid, name) for name, wid in works.items() if wid >= known])
        db.executemany("INSERT INTO performances (id, sha256, path, work, duration, segment, offset, length, added) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.execute("COMMIT")
        if self.new:
            index.add(np.stack([p.vector for p in self.new]).astype(np.float32))
        faiss.write_index(index, str(self.folder / _INDEX))
        if self.manifest["centroids"]:
            self._write_centroids(faiss, db, index, len(works), touched)
        self.manifest.update(performances=int(index.ntotal), works=len(works), songscope_version=__version__,
                             generation=self.name)
        db.close()
        (self.folder / _MANIFEST).write_text(json.dumps(self.manifest, indent=2) + "\n", encoding="utf-8")

    def _write_centroids(self, faiss: Any, db: sqlite3.Connection, index: Any, works: int, touched: set[int]) -> None:
        """Work centroids: the mean of each work's unit vectors, scaled to unit length (recomputed
        for the works this generation touched, or for all when the old generation had none)."""
        dim = self.manifest["dim"]
        centroids = np.zeros((works, dim), np.float32)
        if self.old is not None and self.old.has_centroids:
            old = faiss.read_index(str(self.old.folder / _CENTROIDS))
            centroids[: old.ntotal] = old.reconstruct_n(0, old.ntotal)
        else:
            touched = set(range(works))
        members: dict[int, list[int]] = {w: [] for w in touched}
        for pid, work in db.execute("SELECT id, work FROM performances"):
            if work in members:
                members[work].append(pid)
        for work, ids in members.items():
            mean = np.mean([index.reconstruct(pid) for pid in ids], axis=0)
            centroids[work] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        out = faiss.IndexFlatIP(dim)
        out.add(centroids)
        faiss.write_index(out, str(self.folder / _CENTROIDS))

    def _publish(self) -> None:
        """fsync the new generation, give it its name and make it current (the atomic step)."""
        for path in self.folder.iterdir():
            _fsync(path)
        _fsync(self.folder)
        final = self.root / self.name
        os.rename(self.folder, final)
        write_text(self.root / _CURRENT, self.name + "\n")
        _fsync(self.root)


def _next_name(root: Path) -> str:
    numbers = [int(p.name[1:]) for p in root.glob("g[0-9]*") if p.name[1:].isdigit()]
    return f"g{max(numbers, default=0) + 1:06d}"


def _remove_stale(root: Path, keep: str | None) -> None:
    """Remove generation folders other than ``keep`` (old ones, and leftovers of interrupted changes)."""
    for path in root.iterdir():
        if path.is_dir() and path.name != keep and (path.name.startswith(".g") or path.name[1:].isdigit()):
            shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _locked(root: Path, mode: int) -> Iterator[None]:
    """Hold the store's lock file (``fcntl.LOCK_SH`` or ``LOCK_EX``); a store without one (a
    read-only copy) is read unlocked."""
    try:
        handle = open(root / "lock", "a+" if mode == fcntl.LOCK_EX else "r")
    except OSError as exc:
        if mode == fcntl.LOCK_EX:
            raise OutputError(f"{root}: cannot write ({exc.strerror})") from None
        yield
        return
    with handle:
        fcntl.flock(handle, mode)
        yield


@contextlib.contextmanager
def update_store(root: str | Path, model: str, identity: str, centroids: bool = False) -> Iterator[StoreUpdate]:
    """Change a store (created when ``root`` holds none) in one atomic step.

    ``with update_store(root, model, identity) as update: update.add(...)``: the new generation is
    written and made current when the block ends without an exception; otherwise (or when the
    process dies) the store stays as it was. One writer at a time (an exclusive lock).

    Args:
        root: the store folder. model: the ``-m`` value; identity: its
            :func:`~songscope.library.jobs.model_identity`. centroids: keep work centroids (added
            to a store that has none).

    Raises:
        ConfigError: an existing store of another model. InputError: a folder that is not a store.
        OutputError: the folder cannot be written.
    """
    root = Path(root)
    probe = existing_store(root, load_index=False)
    if probe is not None:
        probe.close()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{root}: cannot write ({exc.strerror})") from None
    with _locked(root, fcntl.LOCK_EX):
        old = CoverStore(root, load_index=False, lock=False) if is_store(root) else None
        try:
            if old is not None:
                old.check_model(identity)
            _remove_stale(root, old.folder.name if old else None)
            folder = root / f".{_next_name(root)}.tmp"
            folder.mkdir()
            update = StoreUpdate(root, old, folder, model, identity, centroids)
            try:
                yield update
                update._write()
                update._publish()
            finally:
                if folder.exists():
                    shutil.rmtree(folder, ignore_errors=True)
            if old is not None:
                shutil.rmtree(old.folder, ignore_errors=True)
        finally:
            if old is not None:
                old.close()
