"""Reference-store scale: build time, size on disk, and one query's latency and memory against
100k and 1M performances.

    python benchmarks/covers_index_scale.py [--sizes 100000 1000000] [--dim 128] [--out data/covers_scale]

The performances are random unit vectors (dimension 128, CoverHunter's default ``embed_dim``),
each with a distinct content hash, a path and one of ``n / 4`` works, written through the store's
own atomic update (``songscope.covers.store.update_store``: FAISS ``IndexFlatIP`` + SQLite table +
manifest, fsynced). Every step runs in a fresh process pinned to one core, so its peak resident
memory (``ru_maxrss``) is its own:

- build: the update that creates the store (wall and CPU seconds, peak MiB);
- query: opening the store (reading the index) and then one query (search for the 10 nearest +
  their rows from the table); the median latency of 20 queries (wall; of the FAISS search alone;
  CPU time: what an idle core would take),
  the process's peak MiB, and the machine's load average then (latencies on a busy machine are
  longer).

Prints one JSON object; ``mib_per_million`` is the store's size on disk scaled to a million
performances.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QUERIES = 20


def _vectors(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build(refs: Path, n: int, dim: int) -> dict:
    from songscope.covers.store import Performance, update_store

    vectors = _vectors(n, dim, seed=0)
    start, cpu = time.perf_counter(), time.process_time()
    with update_store(refs, "random", "random-unit-vectors") as update:
        update.add([Performance(f"{i:064x}", f"/music/{i // 4}/{i}.flac", f"work{i // 4}", 180.0, vectors[i])
                    for i in range(n)])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    size = sum(p.stat().st_size for p in refs.rglob("*") if p.is_file())
    return {"build_seconds": round(seconds, 2), "build_cpu_seconds": round(cpu, 2), "build_peak_mib": round(_peak_mib(), 1),
            "disk_mib": round(size / 2 ** 20, 2), "mib_per_million": round(size / 2 ** 20 * 1e6 / n, 1)}


def query(refs: Path, dim: int) -> dict:
    from songscope.covers.store import CoverStore

    start = time.perf_counter()
    store = CoverStore(refs)
    opened = time.perf_counter() - start
    latencies, searches, cpu = [], [], []
    for q in _vectors(QUERIES, dim, seed=1):
        start, started_cpu = time.perf_counter(), time.process_time()
        _, ids = store.search(q[None], 10)
        searched = time.perf_counter()
        rows = store.performances(ids[0])
        latencies.append(time.perf_counter() - start)
        searches.append(searched - start)
        cpu.append(time.process_time() - started_cpu)
    if len(rows) != 10:
        raise SystemExit("the search returned the wrong number of rows")
    store.close()
    return {"open_seconds": round(opened, 3), "query_ms_median": round(1000 * float(np.median(latencies)), 2),
            "faiss_search_ms_median": round(1000 * float(np.median(searches)), 2),
            "query_cpu_ms_median": round(1000 * float(np.median(cpu)), 2),
            "query_ms_first": round(1000 * latencies[0], 2), "query_peak_mib": round(_peak_mib(), 1),
            "cpu_load_1min": round(os.getloadavg()[0], 1)}


def _child(step: str, refs: Path, n: int, dim: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--step", step, "--refs", str(refs), "--sizes", str(n),
                          "--dim", str(dim)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "covers_scale")
    parser.add_argument("--step", choices=("build", "query"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--refs", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from common import pin_one_core

    pin_one_core()
    if args.step is not None:
        print(json.dumps(build(args.refs, args.sizes[0], args.dim) if args.step == "build" else
                         query(args.refs, args.dim)))
        return
    report: dict = {"dim": args.dim, "index": "faiss IndexFlatIP (exact)", "threads": 1}
    for n in args.sizes:
        refs = args.out / f"refs_{n}"
        shutil.rmtree(refs, ignore_errors=True)
        report[str(n)] = {**_child("build", refs, n, args.dim), **_child("query", refs, n, args.dim)}
        shutil.rmtree(refs, ignore_errors=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
