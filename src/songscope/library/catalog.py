"""The library catalog: one SQLite file (WAL journal) holding a music library's tracks and every
result computed for them.

- A track is a file identified by its content (sha256) and its path: a moved or renamed file keeps
  its results (found again by its hash), and files with the same content are reported as duplicates.
- A result is keyed by content hash, task, model identity (names, and the sha256 of model files),
  the task's settings and the songscope version, so a rerun with the same settings skips done
  work and a changed setting recomputes only what it affects.
- Every result is committed on its own as it arrives from the workers (one writer: the process
  that owns the catalog), so a run killed at any moment loses only the tracks in flight and never
  writes a row twice (the key is the table's primary key).
- The schema carries a version (``PRAGMA user_version``) and migrates forward when a newer
  songscope opens an older catalog; an older songscope refuses a newer catalog.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from ..errors import InputError
from ..version import __version__

__all__ = ["Catalog", "FACT_COLUMNS", "SCHEMA_VERSION", "TrackInfo"]

#: Statements that bring a catalog from version ``i`` to ``i + 1`` (index ``i``).
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE tracks (
               id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL,
               size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, duration REAL, sample_rate INTEGER,
               channels INTEGER, title TEXT, artist TEXT, album TEXT, added REAL NOT NULL)""",
        "CREATE INDEX tracks_sha256 ON tracks (sha256)",
        """CREATE TABLE results (
               sha256 TEXT NOT NULL, task TEXT NOT NULL, model TEXT NOT NULL, settings TEXT NOT NULL,
               version TEXT NOT NULL, created REAL NOT NULL, payload TEXT NOT NULL, vector BLOB,
               bpm REAL, key TEXT, key_signature TEXT, time_signature TEXT, labels TEXT,
               PRIMARY KEY (sha256, task, model, settings, version))""",
        "CREATE INDEX results_latest ON results (sha256, task, created)",
        # what queries and exports see: each track with the facts of its latest results
        """CREATE VIEW track_facts AS SELECT t.path, t.sha256, t.duration, t.sample_rate, t.channels,
               t.title, t.artist, t.album, a.bpm, COALESCE(k.key, a.key) AS key,
               COALESCE(k.key_signature, a.key_signature) AS key_signature, a.time_signature, a.labels
           FROM tracks t
           LEFT JOIN results a ON a.rowid = (SELECT rowid FROM results WHERE sha256 = t.sha256
                                             AND task = 'analyze' ORDER BY created DESC LIMIT 1)
           LEFT JOIN results k ON k.rowid = (SELECT rowid FROM results WHERE sha256 = t.sha256
                                             AND task = 'key' ORDER BY created DESC LIMIT 1)""",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

#: Columns of :meth:`Catalog.facts` rows (and of exports), in order.
FACT_COLUMNS = ("path", "sha256", "duration", "sample_rate", "channels", "title", "artist", "album", "bpm", "key",
                "key_signature", "time_signature", "labels")


@dataclass(frozen=True)
class TrackInfo:
    """What ``library add`` learns about one file (computed in a worker process)."""

    path: str
    sha256: str
    size: int
    mtime_ns: int
    duration: float | None
    sample_rate: int | None
    channels: int | None
    title: str | None = None
    artist: str | None = None
    album: str | None = None


class Catalog:
    """An open catalog file.

    Args:
        path: the SQLite file (created with the current schema when absent).

    Raises:
        InputError: not a songscope catalog, or one written by a newer songscope.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.db = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a songscope catalog ({exc})") from None
        if version > SCHEMA_VERSION:
            raise InputError(f"{self.path}: catalog schema {version} is newer than this songscope reads "
                             f"({SCHEMA_VERSION}); upgrade songscope")
        if version < SCHEMA_VERSION:
            self._migrate(version)

    def _migrate(self, version: int) -> None:
        with self.transaction():
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def transaction(self) -> "_Transaction":
        """``with catalog.transaction(): ...`` commits on success, rolls back on any exception."""
        return _Transaction(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # tracks -----------------------------------------------------------------------------------

    def known(self, path: Path) -> tuple[str, int, int] | None:
        """``(sha256, size, mtime_ns)`` recorded for ``path``, or None."""
        return self.db.execute("SELECT sha256, size, mtime_ns FROM tracks WHERE path = ?",
                               (str(path),)).fetchone()

    def add(self, info: TrackInfo) -> str:
        """Record a file; returns what happened: ``new``, ``moved`` (the same content was known
        under a path that no longer exists: its row, and so its results, follow the file),
        ``duplicate`` (the same content exists under another path), ``changed`` or ``same``."""
        row = self.db.execute("SELECT sha256 FROM tracks WHERE path = ?", (info.path,)).fetchone()
        values = (info.sha256, info.size, info.mtime_ns, info.duration, info.sample_rate, info.channels,
                  info.title, info.artist, info.album)
        with self.transaction():
            if row is not None:
                self.db.execute("UPDATE tracks SET sha256=?, size=?, mtime_ns=?, duration=?, sample_rate=?, "
                                "channels=?, title=?, artist=?, album=? WHERE path=?", (*values, info.path))
                return "same" if row[0] == info.sha256 else "changed"
            others = [p for (p,) in self.db.execute("SELECT path FROM tracks WHERE sha256 = ?", (info.sha256,))]
            gone = next((p for p in others if not Path(p).exists()), None)
            if gone is not None:
                self.db.execute("UPDATE tracks SET path=?, size=?, mtime_ns=? WHERE path=?",
                                (info.path, info.size, info.mtime_ns, gone))
                return "moved"
            self.db.execute("INSERT INTO tracks (path, sha256, size, mtime_ns, duration, sample_rate, channels, "
                            "title, artist, album, added) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                            (info.path, *values, time.time()))
            return "duplicate" if others else "new"

    def tracks(self) -> list[tuple[str, str]]:
        """``(path, sha256)`` of every track, in path order."""
        return self.db.execute("SELECT path, sha256 FROM tracks ORDER BY path").fetchall()

    def track(self, track_id: int) -> tuple[str, str] | None:
        """``(path, sha256)`` of the track with this row id, or None."""
        return self.db.execute("SELECT path, sha256 FROM tracks WHERE id = ?", (track_id,)).fetchone()

    def track_ids(self) -> dict[str, int]:
        """Row id of every track, by path (ids stay with a track when its file moves)."""
        return dict(self.db.execute("SELECT path, id FROM tracks"))

    # results ----------------------------------------------------------------------------------

    def pending(self, task: str, model: str, settings: str) -> list[tuple[str, str]]:
        """``(path, sha256)``, one per distinct content whose file exists, lacking a result for this
        task, model identity, settings and songscope version."""
        rows = self.db.execute(
            "SELECT path, sha256 FROM tracks t WHERE NOT EXISTS (SELECT 1 FROM results r WHERE "
            "r.sha256 = t.sha256 AND r.task = ? AND r.model = ? AND r.settings = ? AND r.version = ?) "
            "ORDER BY path", (task, model, settings, __version__)).fetchall()
        out, seen = [], set()
        for path, sha in rows:
            if sha not in seen and Path(path).exists():
                seen.add(sha)
                out.append((path, sha))
        return out

    def record(self, sha256: str, task: str, model: str, settings: str, payload: dict[str, Any],
               facts: dict[str, Any] | None = None, vector: np.ndarray | None = None) -> None:
        """Store one result (its own transaction); a result already stored under the same key stays."""
        facts = facts or {}
        blob = None if vector is None else np.asarray(vector, dtype="<f4").tobytes()
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO results (sha256, task, model, settings, version, created, payload, vector, "
                "bpm, key, key_signature, time_signature, labels) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (sha256, task, model, settings, __version__, time.time(), json.dumps(payload), blob,
                 facts.get("bpm"), facts.get("key"), facts.get("key_signature"), facts.get("time_signature"),
                 facts.get("labels")))

    def latest(self, sha256: str, task: str) -> tuple[dict[str, Any], str, str] | None:
        """``(payload, model identity, settings)`` of the newest result of ``task`` for a content
        (the one :meth:`facts` reports), or None."""
        row = self.db.execute("SELECT payload, model, settings FROM results WHERE sha256 = ? AND task = ? "
                              "ORDER BY created DESC LIMIT 1", (sha256, task)).fetchone()
        return None if row is None else (json.loads(row[0]), row[1], row[2])

    def vectors(self, task: str, model: str, settings: str) -> tuple[list[str], np.ndarray]:
        """Content hashes and (n, D) float32 vectors of the results of one task / model / settings."""
        rows = self.db.execute("SELECT sha256, vector FROM results WHERE task=? AND model=? AND settings=? AND "
                               "version=? AND vector IS NOT NULL ORDER BY sha256",
                               (task, model, settings, __version__)).fetchall()
        if not rows:
            return [], np.zeros((0, 0), np.float32)
        return [r[0] for r in rows], np.stack([np.frombuffer(r[1], dtype="<f4") for r in rows])

    # reading ----------------------------------------------------------------------------------

    def facts(self, where: str = "", params: Iterable[Any] = ()) -> Iterator[dict[str, Any]]:
        """Rows of the ``track_facts`` view (:data:`FACT_COLUMNS`), optionally filtered by a SQL
        condition with ``?`` parameters (see :mod:`songscope.library.query`)."""
        sql = f"SELECT {', '.join(FACT_COLUMNS)} FROM track_facts"
        cursor = self.db.execute(sql + (f" WHERE {where}" if where else "") + " ORDER BY path", tuple(params))
        for row in cursor:
            yield dict(zip(FACT_COLUMNS, row))

    def status(self) -> dict[str, Any]:
        """Counts: tracks, distinct contents, duplicate files, missing files, results per task and model."""
        tracks = self.tracks()
        hashes = [sha for _, sha in tracks]
        per_task = self.db.execute("SELECT task, model, COUNT(*) FROM results GROUP BY task, model "
                                   "ORDER BY task, model").fetchall()
        return {"catalog": str(self.path), "schema": SCHEMA_VERSION, "tracks": len(tracks),
                "contents": len(set(hashes)), "duplicates": len(hashes) - len(set(hashes)),
                "missing": sum(not Path(p).exists() for p, _ in tracks),
                "results": [{"task": t, "model": m, "count": n} for t, m, n in per_task]}


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type | None, *exc: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
