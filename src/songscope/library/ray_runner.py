"""Running library jobs on a Ray cluster: the same per-track function as the local runner, sent
as Ray tasks (retried when a worker dies), with every result coming back to the one process that
writes the catalog.

A user points songscope at a multi-node cluster with ``--executor ray --address HOST:6379`` (the
address ``ray start --head`` prints); every node must see the audio files under the same paths
(shared storage) and have songscope installed. Without ``--address`` a local Ray instance with
``jobs`` CPUs is started for the run.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Callable, Sequence

from ..errors import ConfigError, Failure

__all__ = ["run_on_ray"]

#: Times Ray runs a task again after its worker process died (not after an error of the task).
RETRIES = 3


def run_on_ray(func: Callable[[Any], Any], items: Sequence[Any], address: str | None = None, jobs: int = 1,
               progress: bool = False, on_result: Callable[[int, Any], None] | None = None) -> list[Failure]:
    """Run ``func`` on every item as Ray tasks; ``on_result(index, result)`` runs here, in the
    driver, as each task succeeds.

    Returns:
        the failures (the tasks that raised, or whose worker died more than :data:`RETRIES` times).

    Raises:
        ConfigError: Ray is not installed, or the cluster cannot be reached.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'songscope[cluster]'") from None
    from tqdm import tqdm

    from .runner import call_guarded

    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, num_cpus=None if address else jobs, include_dashboard=False,
                     log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot reach the Ray cluster {address or '(local)'}: {exc}") from None
    task = ray.remote(max_retries=RETRIES)(call_guarded)
    pending = {task.remote(func, item): i for i, item in enumerate(items)}
    failures: list[Failure] = []
    bar = tqdm(total=len(items), desc="ray", unit="file", file=sys.stderr, disable=not progress)
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(done[0])
            try:
                ok, value = ray.get(done[0])
            except ray.exceptions.RayError as exc:  # the worker died more often than it was retried
                ok, value = False, (f"{items[index]}: Ray task failed ({type(exc).__name__})", 70)
            if ok and on_result is not None:
                on_result(index, value)
            elif not ok:
                failures.append(Failure(items[index], *value))
            bar.update(1)
    finally:
        bar.close()
        if started:
            ray.shutdown()
    return failures
