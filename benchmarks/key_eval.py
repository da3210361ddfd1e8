"""Key estimation accuracy and speed of every key engine songscope has, as one JSON object.

Sets: the held-out split of the seeded synthetic key dataset (rendered into .bench-cache on
first use, see key_dataset.py) and ../shared/data/key (when present). Metrics: mir_eval's
weighted score, exact accuracy and 12-class key-signature accuracy (relative keys counted as
one); 12-class models only know the signature, so only the last applies to them. Speed:
real-time factor on one core (audio seconds / wall seconds, model loading excluded).

    python benchmarks/key_eval.py [--model NAME=PATH ...] [--per-track]

Engines: classic, stone12 and stone24 (official checkpoints, read from
../shared/checkpoints/stone unless $SONGSCOPE_MODEL_DIR says otherwise) and each --model.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

from common import CACHE, SHARED, pin_one_core
from key_dataset import render_dataset

SHARED_KEYS = {"Cmajor.mp3": "C major", "mozart_c_major_30sec.mp3": "C major"}


def synthetic_set(split: str = "val") -> list[tuple[Path, str]]:
    """(path, key) of one split of the synthetic key dataset, rendered on first use."""
    root = CACHE / "keys"
    labels = root / "labels.csv"
    if not labels.exists():
        render_dataset(root)
    with open(labels, newline="") as handle:
        return [(root / r["path"], r["key"]) for r in csv.DictReader(handle) if r["path"].startswith(split + "/")]


def shared_set() -> list[tuple[Path, str]]:
    folder = SHARED / "data" / "key"
    return [(folder / name, key) for name, key in SHARED_KEYS.items() if (folder / name).exists()]


def evaluate(engine: str, tracks: list[tuple[Path, str]]) -> tuple[dict, list[dict], float, float]:
    """Mean metrics, per-track rows, audio seconds and wall seconds of one engine on a set."""
    import math

    import soundfile as sf

    from songscope.evaluate import key_metrics
    from songscope.key.api import estimate_key

    if engine != "classic":
        estimate_key(tracks[0][0], model=engine, device="cpu")  # load (and cache) the model: not timed
    rows, audio_s, wall = [], 0.0, 0.0
    for path, truth in tracks:
        audio_s += sf.info(str(path)).duration
        start = time.perf_counter()
        estimate = estimate_key(path, model=engine, device="cpu")
        wall += time.perf_counter() - start
        rows.append({"path": path.name, "truth": truth, "estimate": estimate.key or estimate.key_signature,
                     **key_metrics(truth, estimate.key or estimate.key_signature)})
    summary = {"tracks": len(rows)}
    for metric in ("weighted", "exact", "key_signature"):
        values = [r[metric] for r in rows if not math.isnan(r[metric])]
        if values:
            summary[metric] = round(sum(values) / len(values), 4)
    for r in rows:
        for metric in ("weighted", "exact"):
            if math.isnan(r[metric]):
                r[metric] = None
    return summary, rows, audio_s, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help="a trained checkpoint to evaluate (repeatable)")
    parser.add_argument("--per-track", action="store_true", help="include per-track rows")
    args = parser.parse_args()
    pin_one_core()
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("SONGSCOPE_MODEL_DIR", str(SHARED / "checkpoints" / "stone"))
    os.environ.setdefault("SONGSCOPE_OFFLINE", "1")
    engines = {"classic": "classic"}
    if (Path(os.environ["SONGSCOPE_MODEL_DIR"]) / "semitone_ks.pt").exists():
        engines.update(stone12="stone12", stone24="stone24")
    for item in args.model:
        name, _, path = item.partition("=")
        engines[name] = path
    sets = {"synthetic_val": synthetic_set(), "shared_key": shared_set()}
    report: dict = {"sets": {k: len(v) for k, v in sets.items()}, "engines": {}}
    for name, engine in engines.items():
        entry, audio_total, wall_total = {}, 0.0, 0.0
        for set_name, tracks in sets.items():
            if not tracks:
                continue
            summary, rows, audio_s, wall = evaluate(engine, tracks)
            entry[set_name] = {**summary, **({"per_track": rows} if args.per_track else {})}
            audio_total, wall_total = audio_total + audio_s, wall_total + wall
        entry["realtime_factor_one_core"] = round(audio_total / wall_total, 1)
        report["engines"][name] = entry
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
