"""The library catalog at scale, and the Ray overhead.

- ``add``: time to add N tiny WAV files (0.05 s each; hashing, probing and writing dominate),
  the catalog's size on disk, and the time of a filter query over them after one fake analysis
  result per track has been stored (bpm and key drawn at random);
- ``run``: tracks per minute of ``library run analyze`` on the same synthetic songs with 1 and 2
  local worker processes and with Ray (2 CPUs, started for the run), so the overhead is visible.

Prints one JSON object.

    python benchmarks/library_scale.py [--files 100000] [--songs 200] [--song-seconds 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE  # noqa: E402

from songscope.key.labels import KEYS  # noqa: E402
from songscope.library.catalog import Catalog  # noqa: E402
from songscope.library.jobs import LibraryJob, add_paths, run_job  # noqa: E402
from songscope.library.query import compile_query  # noqa: E402
from songscope.synth import make_song, render_song  # noqa: E402


def tiny_files(count: int) -> Path:
    folder = CACHE / f"tiny_{count}"
    if (folder / f"{count - 1:06d}.wav").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        sf.write(folder / f"{i:06d}.wav", rng.standard_normal(400).astype(np.float32) * 0.1, 8000, subtype="PCM_16")
    return folder


def songs(count: int, seconds: float) -> Path:
    folder = CACHE / f"library_songs_{count}_{int(seconds)}s"
    if (folder / f"{count - 1:04d}.wav").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    form = (("intro", 2), ("verse", 4), ("chorus", 4), ("outro", 2))
    for i in range(count):
        mix = render_song(make_song(seed=i, form=form), 22050, seed=i)["mixture"]
        sf.write(folder / f"{i:04d}.wav", np.resize(mix, int(seconds * 22050)), 22050, subtype="PCM_16")
    return folder


def measure_add(count: int, work: Path) -> dict:
    folder = tiny_files(count)
    db = work / "scale.db"
    start = time.perf_counter()
    with Catalog(db) as catalog:
        outcome, failures = add_paths(catalog, [folder], jobs=2)
        added = time.perf_counter() - start
        rng = np.random.default_rng(1)
        with catalog.transaction():
            for _, sha in catalog.tracks():
                catalog.db.execute("INSERT INTO results (sha256, task, model, settings, version, created, payload, "
                                   "bpm, key) VALUES (?, 'analyze', 'classic', '{}', 'bench', 0, '{}', ?, ?)",
                                   (sha, float(rng.uniform(60, 180)), KEYS[int(rng.integers(24))]))
        start = time.perf_counter()
        hits = list(catalog.facts(*compile_query("bpm between 120 and 128 and key = 'A minor'")))
        query = time.perf_counter() - start
    return {"files": count, "new": len(outcome["new"]), "failed": len(failures), "add_seconds": round(added, 1),
            "files_per_second": round(count / added), "query_seconds": round(query, 3), "query_hits": len(hits),
            "catalog_mb": round(sum(p.stat().st_size for p in work.glob("scale.db*")) / 2 ** 20, 1)}


def measure_run(count: int, seconds: float, work: Path) -> dict:
    folder = songs(count, seconds)
    out = {"songs": count, "song_seconds": seconds}
    for label, executor, jobs in (("local_1", "local", 1), ("local_2", "local", 2), ("ray_2", "ray", 2)):
        with Catalog(work / f"run_{label}.db") as catalog:
            add_paths(catalog, [folder], jobs=2)
            start = time.perf_counter()
            done, failures = run_job(catalog, LibraryJob("analyze"), jobs=jobs, executor=executor)
            elapsed = time.perf_counter() - start
        out[label] = {"tracks_per_minute": round(60 * done / elapsed, 1), "seconds": round(elapsed, 1),
                      "failed": len(failures)}
    return out


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--songs", type=int, default=200)
    parser.add_argument("--song-seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        report = {"benchmark": "library-scale", "add": measure_add(args.files, Path(work)),
                  "run": measure_run(args.songs, args.song_seconds, Path(work))}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
