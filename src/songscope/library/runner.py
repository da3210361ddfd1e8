"""The one batch runner: apply a function to many inputs in local processes, keep going
past failures, and report them at the end."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Sequence

from ..errors import Failure, SongscopeError

__all__ = ["run_batch", "default_jobs"]


def default_jobs() -> int:
    """Worker processes used when the caller does not say: the usable CPU cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _call(func: Callable[[Any], Any], item: Any) -> tuple[bool, Any]:
    """``(True, result)`` or ``(False, (one-line message, exit code))``."""
    try:
        return True, func(item)
    except SongscopeError as exc:
        return False, (str(exc), exc.exit_code)
    except MemoryError:
        return False, (f"{item}: out of memory", 1)
    except Exception as exc:  # a bug must not stop the batch; report it on one line
        return False, (f"{item}: internal error ({type(exc).__name__}: {exc})", 70)


def run_batch(func: Callable[[Any], Any], items: Sequence[Any], jobs: int = 1,
              progress: bool = False, desc: str = "analyzing") -> tuple[list[Any], list[Failure]]:
    """Run ``func`` on every item.

    Args:
        func: a picklable top-level function of one item.
        items: the inputs.
        jobs: worker processes; 1 runs in this process.
        progress: show a progress bar on stderr.

    Returns:
        ``(results, failures)``: results aligned with ``items`` (None where it failed).
    """
    from tqdm import tqdm

    results: list[Any] = [None] * len(items)
    failures: list[Failure] = []
    bar = tqdm(total=len(items), desc=desc, unit="file", file=sys.stderr, disable=not progress)

    def record(index: int, ok: bool, value: Any) -> None:
        if ok:
            results[index] = value
        else:
            failures.append(Failure(items[index], *value))
        bar.update(1)

    try:
        if jobs <= 1 or len(items) <= 1:
            for i, item in enumerate(items):
                record(i, *_call(func, item))
        else:
            with ProcessPoolExecutor(max_workers=min(jobs, len(items))) as pool:
                futures = {pool.submit(_call, func, item): i for i, item in enumerate(items)}
                for future in as_completed(futures):
                    i = futures[future]
                    try:
                        record(i, *future.result())
                    except Exception as exc:  # the worker process itself died
                        record(i, False, (f"{items[i]}: worker failed ({type(exc).__name__}: {exc})", 70))
    finally:
        bar.close()
    failures.sort(key=lambda f: items.index(f.item))
    return results, failures
