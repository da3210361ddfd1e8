"""The one batch runner: apply a function to many inputs in local processes, keep going
past failures, and report them at the end.

Stopping: Ctrl-C (SIGINT) or SIGTERM reaches the main process only (workers ignore SIGINT, so a
terminal's Ctrl-C does not print one traceback per worker); the runner then cancels the inputs
not started, asks the workers to stop (SIGTERM, which they turn into an exception, so the
atomic writers remove their temporary files), kills any worker still busy after a grace period,
and raises :class:`~songscope.errors.Interrupted`. Finished outputs stay.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Iterator, Sequence

from ..errors import Failure, Interrupted, SongscopeError

__all__ = ["call_guarded", "default_jobs", "run_batch", "signals_as_exceptions"]

#: Seconds a worker gets to stop after SIGTERM before it is killed.
_GRACE = 1.0


def default_jobs() -> int:
    """Worker processes used when the caller does not say: the usable CPU cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def call_guarded(func: Callable[[Any], Any], item: Any) -> tuple[bool, Any]:
    """``(True, result)`` or ``(False, (one-line message, exit code))``; an interruption propagates."""
    try:
        return True, func(item)
    except Interrupted:
        raise
    except SongscopeError as exc:
        return False, (str(exc), exc.exit_code)
    except MemoryError:
        return False, (f"{item}: out of memory", 1)
    except Exception as exc:  # a bug must not stop the batch; report it on one line
        return False, (f"{item}: internal error ({type(exc).__name__}: {exc})", 70)


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise Interrupted(signal.Signals(signum).name, 128 + signum)


@contextlib.contextmanager
def signals_as_exceptions() -> Iterator[None]:
    """In the main thread: SIGTERM raises :class:`Interrupted` (exit status 143) like Ctrl-C
    raises KeyboardInterrupt, so ``finally`` blocks and atomic writers clean up either way."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    except ValueError:  # not the main thread: leave signal handling to it
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_stopping = False


def _worker_stop(signum: int, frame: Any) -> None:
    global _stopping
    _stopping = True
    _raise_interrupted(signum, frame)


def _worker_init() -> None:
    """Workers ignore SIGINT (the main process decides); SIGTERM unwinds the current item (its
    atomic writers remove their temporary files) and then ends the worker (:func:`_worker_call`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_stop)


def _worker_call(func: Callable[[Any], Any], item: Any) -> tuple[bool, Any]:
    """:func:`call_guarded` in a worker process, which exits at once once asked to stop."""
    try:
        return call_guarded(func, item)
    finally:
        if _stopping:
            os._exit(128 + signal.SIGTERM)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started, ask running workers to stop, kill those that do not."""
    processes = list(getattr(pool, "_processes", {}).values())  # ProcessPoolExecutor keeps no public list
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + _GRACE
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def run_batch(func: Callable[[Any], Any], items: Sequence[Any], jobs: int = 1,
              progress: bool = False, desc: str = "analyzing",
              on_result: Callable[[int, Any], None] | None = None) -> tuple[list[Any], list[Failure]]:
    """Run ``func`` on every item.

    Args:
        func: a picklable top-level function of one item.
        items: the inputs.
        jobs: worker processes; 1 runs in this process.
        progress: show a progress bar on stderr.
        on_result: called in this process as ``on_result(index, result)`` as soon as an item
            succeeds (a catalog's single writer saves it there, so an interruption loses nothing
            that finished).

    Returns:
        ``(results, failures)``: results aligned with ``items`` (None where it failed).

    Raises:
        Interrupted: Ctrl-C or SIGTERM; the workers are stopped first (see the module docstring).
    """
    from tqdm import tqdm

    results: list[Any] = [None] * len(items)
    failures: list[Failure] = []
    bar = tqdm(total=len(items), desc=desc, unit="file", file=sys.stderr, disable=not progress)

    def record(index: int, ok: bool, value: Any) -> None:
        if ok:
            results[index] = value
            if on_result is not None:
                on_result(index, value)
        else:
            failures.append(Failure(items[index], *value))
        bar.update(1)

    try:
        with signals_as_exceptions():
            if jobs <= 1 or len(items) <= 1:
                for i, item in enumerate(items):
                    record(i, *call_guarded(func, item))
            else:
                pool = ProcessPoolExecutor(max_workers=min(jobs, len(items)), initializer=_worker_init)
                try:
                    futures = {pool.submit(_worker_call, func, item): i for i, item in enumerate(items)}
                    for future in as_completed(futures):
                        i = futures[future]
                        try:
                            record(i, *future.result())
                        except Exception as exc:  # the worker process itself died
                            record(i, False, (f"{items[i]}: worker failed ({type(exc).__name__}: {exc})", 70))
                except BaseException:
                    _stop(pool)
                    raise
                pool.shutdown()
    except KeyboardInterrupt:
        raise Interrupted() from None
    finally:
        bar.close()
    failures.sort(key=lambda f: items.index(f.item))
    return results, failures
