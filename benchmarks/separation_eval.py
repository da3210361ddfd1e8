"""SDR (BSSEval v4, median over 1 s frames) and SI-SDR per stem of every separation engine on
held-out synthetic multitracks, plus the real-time factor of each.

    songscope synth data/separation --works 32 --versions 1 --seed 11   (once)
    python benchmarks/separation_eval.py [--data data/separation/test] [--tracks 8]
        [--model bsrnn=runs/separation_bsrnn_cpu/separation_model.pt --model unet=...] [--no-classic]

Prints one JSON object: per engine the median over tracks of each metric, and the RTF.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from songscope.evaluate.metrics import separation_metrics
from songscope.separation.api import SeparateOptions, load_separator, separate_file
from songscope.separation.data import find_tracks
from songscope.conventions import STEMS

ROOT = Path(__file__).resolve().parents[1]


def evaluate_engine(model: str, tracks: list, out: Path, label: str) -> dict:
    """Separate each track's mixture with ``model`` ("classic" or a checkpoint) into ``out`` and
    score it: the median over tracks of each SDR / SI-SDR (dB) and the real-time factor."""
    separator = load_separator(model, "cpu")
    rows, audio_seconds, wall = [], 0.0, 0.0
    for track in tracks:
        mixture = Path(track.files["bass"]).parent / "mixture.wav"
        start = time.perf_counter()
        written = separate_file(mixture, out / track.name, separator, SeparateOptions(format="wav32"))
        wall += time.perf_counter() - start
        audio_seconds += track.frames / track.sample_rate
        refs = {s: sf.read(str(track.files[s]), dtype="float32")[0] for s in STEMS}
        ests = {s: sf.read(str(written[s]), dtype="float32")[0] for s in STEMS if s in written}
        rows.append(separation_metrics({s: refs[s] for s in ests}, ests, track.sample_rate))
        print(json.dumps({label: track.name, **{k: round(v, 2) for k, v in rows[-1].items()}}), file=sys.stderr)
    summary = {k: round(float(np.median([r[k] for r in rows])), 2) for k in rows[0]}
    return {**summary, "realtime_factor": round(audio_seconds / wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "separation" / "test")
    parser.add_argument("--tracks", type=int, default=8)
    parser.add_argument("--model", action="append", default=[], help="name=checkpoint (repeatable)")
    parser.add_argument("--no-classic", action="store_true", help="only the --model checkpoints")
    parser.add_argument("--out", type=Path, default=ROOT / ".bench-cache" / "separation_eval")
    args = parser.parse_args()
    tracks = find_tracks(args.data)[:args.tracks]
    engines = {} if args.no_classic else {"classic": "classic"}
    engines.update(dict(item.split("=", 1) for item in args.model))
    report = {"benchmark": "separation_eval", "data": str(args.data), "tracks": len(tracks), "engines": {}}
    for name, model in engines.items():
        report["engines"][name] = evaluate_engine(model, tracks, args.out / name, name)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
