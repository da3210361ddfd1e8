"""Per engine and per stem: SDR, cSDR, uSDR and SI-SDR on held-out synthetic multitracks, plus
the real-time factor of each engine.

    songscope synth data/separation --works 32 --versions 1 --seed 11   (once)
    python benchmarks/separation_eval.py [--data data/separation/test] [--tracks 8] [--jobs N]
        [--model bsrnn=runs/separation_bsrnn_cpu/separation_model.pt --model unet=...] [--no-classic]
        [--extra nussl_hpss=DIR ...]

The per-model table of issue 13 trains the five networks of ``configs/separation_table_*_cpu.toml``
and ``configs/separation_auralflow_*_cpu.toml`` with the same CPU budget (see those files) on
``songscope synth data/separation_table --works 24 --versions 1 --seed 11`` (two soundfonts) and
passes each ``separation_model.pt`` as ``--model``.

Metrics (dB), per stem, over the tracks:

- ``SDR``: BSSEval v4 as museval computes it (all estimated stems of a track together, 1 s
  frames, a frame where any of them is silent left out, the median over frames), then the
  median over tracks (SiSEC 2018);
- ``cSDR``: the same 1 s frames for the stem alone (a frame left out only when that stem is
  silent, as the BSRNN recipe's ``bss_eval`` of one target), median over frames, then the
  median over tracks (the BSRNN paper's chunk-level SDR);
- ``uSDR``: the SDR of the whole track, then the mean over tracks (Music Demixing Challenge);
- ``SI-SDR``: scale-invariant SDR of the whole track, then the median over tracks.

An engine that estimates some stems only (Auralflow's networks: one target each) is scored on
those. ``--extra name=DIR`` scores estimates made elsewhere: ``DIR/<track>/<stem>.wav`` (any
audio suffix soundfile reads) for the tracks of ``--data``; their real-time factors are None.
``--jobs N`` spreads the (engine, track) pairs over N processes. Prints one JSON object:
``engines -> name -> {stems -> stem -> metrics, realtime_factor, cpu_realtime_factor}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from songscope.conventions import STEMS
from songscope.errors import InputError
from songscope.evaluate.metrics import separation_metrics
from songscope.separation.api import SeparateOptions, load_separator, separate_file
from songscope.separation.data import Track, find_tracks

ROOT = Path(__file__).resolve().parents[1]


def score_track(track: Track, estimates: dict[str, Path]) -> dict[str, dict[str, float]]:
    """Stem -> {SDR, cSDR, uSDR, SI-SDR} (dB) of one track's estimate files."""
    refs = {s: sf.read(str(track.files[s]), dtype="float32")[0] for s in STEMS if s in estimates}
    ests = {s: sf.read(str(estimates[s]), dtype="float32")[0] for s in refs}
    joint = separation_metrics(refs, ests, track.sample_rate)
    return {s: {"SDR": joint[f"SDR_{s}"], "cSDR": separation_metrics({s: refs[s]}, {s: ests[s]},
                                                                      track.sample_rate)[f"SDR_{s}"],
                "uSDR": joint[f"uSDR_{s}"], "SI-SDR": joint[f"SI-SDR_{s}"]} for s in refs}


def summarize(rows: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per stem over tracks: the median of SDR, cSDR and SI-SDR, the mean of uSDR (NaN frames-free
    tracks left out), rounded to 0.01 dB."""
    out = {}
    for stem in [s for s in STEMS if any(s in row for row in rows)]:
        values = {k: np.array([row[stem][k] for row in rows if stem in row]) for k in ("SDR", "cSDR", "uSDR", "SI-SDR")}
        out[stem] = {k: round(float(np.nanmean(v) if k == "uSDR" else np.nanmedian(v)), 2) for k, v in values.items()}
    return out


def _log(label: str, track: Track, scores: dict[str, dict[str, float]]) -> None:
    print(json.dumps({label: track.name, **{s: {k: round(v, 2) for k, v in m.items()} for s, m in scores.items()}}),
          file=sys.stderr, flush=True)


@lru_cache(maxsize=2)
def _separator(model: str):
    """The engine, loaded once per process (torch, when a model needs it, on one thread)."""
    if "torch" in sys.modules or model != "classic":
        import torch

        torch.set_num_threads(1)
    return load_separator(model, "cpu")


def _estimate_files(folder: Path, track: Track) -> dict[str, Path]:
    files = {p.stem: p for p in sorted((folder / track.name).glob("*.*")) if p.stem in STEMS}
    if not files:
        raise InputError(f"{folder / track.name}: no estimate ({', '.join(STEMS)} audio files)")
    return files


def _task(label: str, source: str, track: Track, out: Path | None) -> tuple[dict, float, float, float]:
    """One track of one engine: separate with checkpoint/"classic" ``source`` into ``out`` (or, with
    ``out`` None, read the estimates in folder ``source``) and score it. Returns the scores and the
    audio, wall and CPU seconds of the separation (0 for a folder)."""
    if out is None:
        scores, wall, cpu = score_track(track, _estimate_files(Path(source), track)), 0.0, 0.0
    else:
        separator = _separator(source)
        mixture = Path(track.files["bass"]).parent / "mixture.wav"
        wall, cpu = time.perf_counter(), time.process_time()
        written = separate_file(mixture, out / track.name, separator, SeparateOptions(format="wav32"))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        scores = score_track(track, written)
    _log(label, track, scores)
    return scores, track.frames / track.sample_rate, wall, cpu


def _engine_row(results: list[tuple[dict, float, float, float]]) -> dict:
    """Per stem metrics of :func:`summarize`, and the real-time factors (audio seconds per wall
    second and per CPU second of ``separate_file``, model loading excluded; None for folders)."""
    audio, wall, cpu = (sum(r[i] for r in results) for i in (1, 2, 3))
    return {"stems": summarize([r[0] for r in results]),
            "realtime_factor": round(audio / wall, 2) if wall else None,
            "cpu_realtime_factor": round(audio / cpu, 2) if cpu else None}


def evaluate_engine(model: str, tracks: list[Track], out: Path, label: str) -> dict:
    """Separate each track's mixture with ``model`` ("classic" or a checkpoint) into ``out``
    and score it (:func:`_engine_row`)."""
    return _engine_row([_task(label, model, track, out) for track in tracks])


def evaluate_all(engines: dict[str, str], extras: dict[str, str], tracks: list[Track], out: Path,
                 jobs: int = 1) -> dict[str, dict]:
    """:func:`evaluate_engine` for every engine and the scores of every estimate folder, the
    (engine, track) pairs spread over ``jobs`` processes (real-time factors are then measured
    on a shared CPU: the CPU-time one is the steadier)."""
    tasks = [(name, model, track, out / name) for name, model in engines.items() for track in tracks]
    tasks += [(name, folder, track, None) for name, folder in extras.items() for track in tracks]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            results = list(pool.map(_task, *zip(*tasks)))
    else:
        results = [_task(*task) for task in tasks]
    return {name: _engine_row([r for task, r in zip(tasks, results) if task[0] == name])
            for name in [*engines, *extras]}


def _pairs(items: list[str], option: str) -> dict[str, str]:
    bad = [item for item in items if "=" not in item]
    if bad:
        sys.exit(f"error: {option} {bad[0]!r}: expected name=path")
    return dict(item.split("=", 1) for item in items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "separation" / "test")
    parser.add_argument("--tracks", type=int, default=8)
    parser.add_argument("--model", action="append", default=[], help="name=checkpoint (repeatable)")
    parser.add_argument("--extra", action="append", default=[],
                        help="name=DIR of precomputed estimates, DIR/<track>/<stem>.wav (repeatable)")
    parser.add_argument("--no-classic", action="store_true", help="only the --model checkpoints and --extra folders")
    parser.add_argument("--out", type=Path, default=ROOT / ".bench-cache" / "separation_eval")
    parser.add_argument("--jobs", type=int, default=1, help="processes scoring (engine, track) pairs at once")
    args = parser.parse_args()
    tracks = find_tracks(args.data)[:args.tracks]
    engines = {} if args.no_classic else {"classic": "classic"}
    engines.update(_pairs(args.model, "--model"))
    extras = _pairs(args.extra, "--extra")
    report = {"benchmark": "separation_eval", "data": str(args.data), "tracks": [t.name for t in tracks], "engines": {}}
    try:
        report["engines"] = evaluate_all(engines, extras, tracks, args.out, max(1, args.jobs))
    except InputError as exc:
        sys.exit(f"error: {exc}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
