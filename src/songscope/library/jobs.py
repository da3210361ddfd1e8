"""What ``songscope library add`` and ``library run`` do per file, and how a run goes: workers
compute, the catalog's owner records each result as it arrives (one writer).

Tasks: ``analyze`` (the result JSON of ``songscope analyze``), ``key`` (``songscope key``'s row),
``separate`` (stems written under the stems folder, their paths recorded) and ``covers-index``
(a covers engine's embedding, stored as a vector).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Collection, Sequence

from ..errors import ConfigError, Failure
from ..models.catalog import CATALOG
from ..models.checkpoints import sha256_of
from .catalog import Catalog, TrackInfo

__all__ = ["LIBRARY_TASKS", "LibraryJob", "add_paths", "model_identity", "probe", "run_job"]

LIBRARY_TASKS = ("analyze", "key", "separate", "covers-index")
#: The registry task each library task's ``--model`` belongs to.
_MODEL_TASK = {"analyze": "structure", "key": "key", "separate": "separation", "covers-index": "covers"}


def probe(path: Path) -> TrackInfo:
    """Hash and describe one audio file (runs in a worker process).

    Raises:
        AudioError: not audio.
    """
    from ..audio.decode import info

    meta = info(path)
    stat = path.stat()
    tags = _tags(path)
    return TrackInfo(str(path.resolve()), sha256_of(path), stat.st_size, stat.st_mtime_ns, meta.duration,
                     meta.sample_rate, meta.channels, *tags)


def _tags(path: Path) -> tuple[str | None, str | None, str | None]:
    """(title, artist, album) from the file's tags when ``mutagen`` is installed."""
    try:
        import mutagen
    except ImportError:
        return None, None, None
    try:
        tags = mutagen.File(path, easy=True)
    except Exception:  # mutagen raises many types for files it cannot parse; tags are optional
        return None, None, None
    if not tags:
        return None, None, None
    return tuple((tags.get(name) or [None])[0] for name in ("title", "artist", "album"))


def add_paths(catalog: Catalog, paths: Sequence[str | Path], jobs: int = 1,
              progress: bool = False) -> tuple[dict[str, list[str]], list[Failure]]:
    """Add files and folders; files whose path, size and modification time are known are not read
    again. Returns the paths per outcome (``new``, ``moved``, ``duplicate``, ``changed``,
    ``same``) and the files that could not be added."""
    from .inputs import expand_inputs
    from .runner import run_batch

    outcome: dict[str, list[str]] = {k: [] for k in ("new", "moved", "duplicate", "changed", "same")}
    todo = []
    for path in expand_inputs(paths):
        known, stat = catalog.known(path.resolve()), path.stat()
        if known is not None and (known[1], known[2]) == (stat.st_size, stat.st_mtime_ns):
            outcome["same"].append(str(path))
        else:
            todo.append(path)

    def save(index: int, info: TrackInfo) -> None:
        outcome[catalog.add(info)].append(info.path)

    _, failures = run_batch(probe, todo, jobs=jobs, progress=progress, desc="adding", on_result=save)
    return outcome, failures


def model_identity(spec: str) -> str:
    """What a ``-m`` value stands for in result keys: a name as it is, a catalogued name with its
    file's sha256, a model file by its content (so new weights under an old path recompute)."""
    parts = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if part in CATALOG:
            parts.append(f"{part}@{CATALOG[part].sha256[:16]}")
        elif Path(part).is_file():
            parts.append(f"sha256:{sha256_of(Path(part))[:16]}")
        else:
            parts.append(part)
    return ",".join(parts)


@dataclass(frozen=True)
class LibraryJob:
    """One ``library run``: a task, its model and its settings.

    Attributes:
        task: one of :data:`LIBRARY_TASKS`. model: the ``-m`` value of the task.
        settings: the task's other settings (analyze: ``key_model``, ``demix``, ``meters``,
            ``min_bpm``, ``max_bpm``); part of the result key.
        stems_dir: where ``separate`` writes stems (``<stems_dir>/<sha256>/<stem>.wav``).
        device: for neural models.
    """

    task: str
    model: str = "classic"
    settings: dict[str, Any] = field(default_factory=dict)
    stems_dir: Path | None = None
    device: str | None = None

    def __post_init__(self) -> None:
        if self.task not in LIBRARY_TASKS:
            raise ConfigError(f"unknown library task {self.task!r}; tasks: {', '.join(LIBRARY_TASKS)}")

    def key(self) -> tuple[str, str]:
        """``(model identity, settings as canonical JSON)``: with the task and the songscope
        version, what makes two results the same."""
        settings = {k: (model_identity(v) if k in ("key_model", "demix") and isinstance(v, str) else v)
                    for k, v in sorted(self.settings.items()) if v is not None}
        return model_identity(self.model), json.dumps(settings, sort_keys=True)

    def check(self) -> None:
        """Load the job's engines once, so a bad model or setting fails before any work."""
        if self.task == "analyze":
            from ..pipeline import load_engines

            load_engines(self.analyze_options())
        else:
            from ..models.registry import load_engine

            load_engine(_MODEL_TASK[self.task], self.model, self.device)

    def analyze_options(self) -> Any:
        """The :class:`~songscope.pipeline.AnalyzeOptions` of an ``analyze`` job."""
        from ..pipeline import AnalyzeOptions

        settings = {k: (tuple(v) if k == "meters" else v) for k, v in self.settings.items() if v is not None}
        return AnalyzeOptions(model=self.model, key_model=settings.pop("key_model", "classic"),
                              demix_model=settings.pop("demix", None), device=self.device, **settings)


def _compute(item: tuple[str, str], job: LibraryJob) -> tuple[str, dict, dict, Any]:
    """``(sha256, payload, facts, vector or None)`` of one track (runs in a worker process)."""
    path, sha = item
    if job.task == "analyze":
        from ..pipeline import analyze_file

        result = analyze_file(path, job.analyze_options())
        facts = {"bpm": result.bpm, "key": result.key, "key_signature": result.key_signature,
                 "time_signature": result.time_signature, "labels": " ".join(s.label for s in result.segments)}
        return sha, result.to_dict(), facts, None
    if job.task == "key":
        from ..key.api import estimate_key

        estimate = estimate_key(path, model=job.model, device=job.device)
        return sha, estimate.to_dict(), {"key": estimate.key, "key_signature": estimate.key_signature}, None
    if job.task == "separate":
        from ..separation.api import load_separator, separate_file

        folder = Path(job.stems_dir or "stems") / sha
        stems = separate_file(path, folder, load_separator(job.model, job.device))
        return sha, {name: str(p) for name, p in stems.items()}, {}, None
    from ..audio.signal import decode
    from ..models.registry import load_engine

    engine = load_engine("covers", job.model, job.device)
    embedding = engine.predict(decode(path, engine.views))
    return sha, {"dim": int(embedding.vector.shape[0]), "model": embedding.model}, {}, embedding.vector


def run_job(catalog: Catalog, job: LibraryJob, jobs: int = 1, progress: bool = False,
            executor: str = "local", address: str | None = None,
            only: Collection[str] | None = None) -> tuple[int, list[Failure]]:
    """Compute the job's missing results and record each as it arrives.

    Args:
        executor: ``local`` (worker processes on this machine) or ``ray`` (a Ray cluster; ``address``
            of an existing one, else a local one is started).
        only: content hashes (sha256) to restrict the run to; None: every track lacking the result.

    Returns:
        ``(results recorded, failures)``.
    """
    job.check()
    model, settings = job.key()
    todo = [item for item in catalog.pending(job.task, model, settings) if only is None or item[1] in only]
    recorded = [0]

    def save(index: int, value: tuple[str, dict, dict, Any]) -> None:
        sha, payload, facts, vector = value
        catalog.record(sha, job.task, model, settings, payload, facts, vector)
        recorded[0] += 1

    compute: Callable[[tuple[str, str]], Any] = functools.partial(_compute, job=job)
    if executor == "ray":
        from .ray_runner import run_on_ray

        failures = run_on_ray(compute, todo, address=address, jobs=jobs, progress=progress, on_result=save)
    elif executor == "local":
        from .runner import run_batch

        failures = run_batch(compute, todo, jobs=jobs, progress=progress, desc=job.task, on_result=save)[1]
    else:
        raise ConfigError(f"unknown executor {executor!r}; use local or ray")
    for failure in failures:
        failure.item = failure.item[0]
    return recorded[0], failures
