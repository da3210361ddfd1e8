"""Uploads analysed in the background: each stored upload becomes a job that adds the file to
the catalog and runs the classic ``analyze`` for it (:mod:`songscope.library.jobs`), one job at a
time on one worker thread, which is then the catalog's only writer for the server."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..library.catalog import Catalog
from ..library.jobs import LibraryJob, add_paths, run_job

__all__ = ["JOB_STATES", "JobBoard", "UploadJob"]

#: A job's states in order, with the fraction of the work done when it enters each.
JOB_STATES = {"queued": 0.0, "adding": 0.1, "analyzing": 0.3, "done": 1.0, "failed": 1.0}


@dataclass
class UploadJob:
    """One upload's progress.

    Attributes:
        id: 32 hex digits. name: the file name the client gave (shown, never used as a path).
        stored: where the server stored the upload. state: a key of :data:`JOB_STATES`.
        message: what went wrong (``failed``) or what was done. track_id: the catalog row, once added.
        created, finished: Unix times (s).
    """

    id: str
    name: str
    stored: Path
    state: str = "queued"
    message: str = ""
    track_id: int | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The job as ``/api/jobs/{id}`` shows it (no server path)."""
        return {"id": self.id, "name": self.name, "state": self.state, "progress": JOB_STATES[self.state],
                "message": self.message, "track_id": self.track_id, "created": self.created,
                "finished": self.finished}


class JobBoard:
    """The server's upload jobs.

    Args:
        catalog_path: the catalog the jobs add to and analyse into.
    """

    def __init__(self, catalog_path: Path):
        self.catalog_path = catalog_path
        self._jobs: dict[str, UploadJob] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="songscope-upload")

    def submit(self, stored: Path, name: str) -> UploadJob:
        """Queue the analysis of a stored upload; returns its job at once."""
        job = UploadJob(uuid.uuid4().hex, name, stored)
        with self._lock:
            self._jobs[job.id] = job
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> dict[str, Any] | None:
        """A snapshot of a job, or None for an unknown id."""
        with self._lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.to_dict()

    def all(self) -> list[dict[str, Any]]:
        """Snapshots of every job, newest first."""
        with self._lock:
            return [job.to_dict() for job in sorted(self._jobs.values(), key=lambda j: -j.created)]

    def close(self) -> None:
        """Let the running job finish; drop the queued ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _set(self, job: UploadJob, state: str, message: str = "", track_id: int | None = None) -> None:
        with self._lock:
            job.state, job.message = state, message
            job.track_id = track_id if track_id is not None else job.track_id
            if state in ("done", "failed"):
                job.finished = time.time()

    def _run(self, job: UploadJob) -> None:
        try:
            with Catalog(self.catalog_path) as catalog:
                self._set(job, "adding")
                outcome, failures = add_paths(catalog, [job.stored])
                if failures:
                    self._set(job, "failed", self._public(job, failures[0].message))
                    return
                path = job.stored.resolve()
                sha = catalog.known(path)[0]
                track_id = catalog.track_ids()[str(path)]
                self._set(job, "analyzing", track_id=track_id)
                recorded, failures = run_job(catalog, LibraryJob("analyze"), only={sha})
                if failures:
                    self._set(job, "failed", self._public(job, failures[0].message))
                    return
                kind = next(kind for kind, paths in outcome.items() if paths)
                self._set(job, "done", "analysed" if recorded else f"{kind}: analysis already in the catalog")
        except Exception as exc:  # a job must end in a state the page can show, whatever happened
            self._set(job, "failed", self._public(job, f"{type(exc).__name__}: {exc}"))

    @staticmethod
    def _public(job: UploadJob, message: str) -> str:
        """``message`` with the server's storage path replaced by the client's file name."""
        for path in (str(job.stored.resolve()), str(job.stored)):
            message = message.replace(path, job.name)
        return message
