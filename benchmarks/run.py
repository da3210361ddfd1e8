"""Every songscope engine on a fixed seeded synthetic corpus, as one JSON object.

Corpora (rendered with ``songscope synth`` into .bench-cache on first use, then reused):
``songs``: 20 works, one version each (60-150 s); ``covers``: 20 works x 3 versions.
For each engine: the field's metrics against the exact ground truth (songscope.evaluate) and
the real-time factor on one core (audio seconds / wall seconds, model loading excluded).

    python benchmarks/run.py [--peers] [--engine soundfont|numpy]

``--peers`` adds librosa's beat tracker (and madmom's, when installed) on the same audio.
Separation: the classic engine on the first ``--separation-tracks`` songs (BSSEval v4 is slow:
about two minutes per track); ``--separation-model name=checkpoint`` adds trained models
(``benchmarks/separation_eval.py`` holds the held-out comparison). Cover identification has no
engine in songscope yet; it is listed as such.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

from common import CACHE, SHARED, mean, pin_one_core
from separation_eval import evaluate_engine

from songscope.audio import load_mono
from songscope.audio.features import ANALYSIS_SR
from songscope.evaluate import read_annotations
from songscope.evaluate.metrics import beat_metrics, key_metrics, structure_metrics, tempo_metrics
from songscope.separation.data import find_tracks
from songscope.synth.dataset import write_dataset

CORPORA = {"songs": {"works": 20, "versions": 1, "seed": 1}, "covers": {"works": 20, "versions": 3, "seed": 2}}


def corpus(name: str, engine: str) -> Path:
    folder = CACHE / f"synth_{name}_{engine}"
    settings = CORPORA[name]
    write_dataset(folder, settings["works"], settings["versions"], settings["seed"], engine=engine)
    return folder


def run_analyze(folder: Path) -> dict:
    """Classic engine: beats, tempo, downbeats, sections and key of every mixture."""
    from songscope.pipeline import AnalyzeOptions, analyze_file

    truth = read_annotations(folder / "annotations")
    rows, audio_s, wall = {"beats": [], "structure": [], "key": []}, 0.0, 0.0
    for track, ref in truth.items():
        start = time.perf_counter()
        est = analyze_file(folder / "mixtures" / f"{track}.wav", AnalyzeOptions())
        wall += time.perf_counter() - start
        audio_s += est.duration
        rows["beats"].append({**beat_metrics(ref.beats, est.beats, ref.downbeats, est.downbeats),
                              **tempo_metrics(ref.bpm, est.bpm)})
        rows["structure"].append(structure_metrics(ref.intervals, ref.labels,
                                                   [[s.start, s.end] for s in est.segments],
                                                   [s.label for s in est.segments]))
        rows["key"].append(key_metrics(ref.key, est.key))
    return {**{task: mean(r) for task, r in rows.items()}, "realtime_factor": round(audio_s / wall, 1)}


def run_key_model(folder: Path, model: str) -> dict:
    from songscope.key.api import estimate_key

    truth = read_annotations(folder / "annotations")
    first = next(iter(truth))
    estimate_key(folder / "mixtures" / f"{first}.wav", model=model, device="cpu")  # load: not timed
    rows, audio_s, wall = [], 0.0, 0.0
    for track, ref in truth.items():
        path = folder / "mixtures" / f"{track}.wav"
        mono, _ = load_mono(path, ANALYSIS_SR)
        audio_s += len(mono) / ANALYSIS_SR
        start = time.perf_counter()
        est = estimate_key(path, model=model, device="cpu")
        wall += time.perf_counter() - start
        rows.append(key_metrics(ref.key, est.key or est.key_signature))
    return {"key": mean(rows), "realtime_factor": round(audio_s / wall, 1)}


def run_peer_beats(folder: Path, peer: str) -> dict:
    truth = read_annotations(folder / "annotations")
    rows, audio_s, wall = [], 0.0, 0.0
    for track, ref in truth.items():
        mono, _ = load_mono(folder / "mixtures" / f"{track}.wav", ANALYSIS_SR)
        audio_s += len(mono) / ANALYSIS_SR
        start = time.perf_counter()
        if peer == "librosa":
            import librosa
            tempo, beats = librosa.beat.beat_track(y=mono, sr=ANALYSIS_SR, units="time")
            bpm = float(np.atleast_1d(tempo)[0])
        else:
            from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
            beats = DBNBeatTrackingProcessor(fps=100)(RNNBeatProcessor()(mono))
            bpm = 60.0 / float(np.median(np.diff(beats))) if len(beats) > 1 else None
        wall += time.perf_counter() - start
        rows.append({**beat_metrics(ref.beats, beats), **tempo_metrics(ref.bpm, bpm)})
    return {"beats": mean(rows), "realtime_factor": round(audio_s / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", action="store_true", help="also run librosa (and madmom when installed)")
    parser.add_argument("--engine", choices=("soundfont", "numpy"), default="soundfont", help="synth engine")
    parser.add_argument("--separation-tracks", type=int, default=4, help="songs to separate (0: none)")
    parser.add_argument("--separation-model", action="append", default=[], help="name=checkpoint (repeatable)")
    args = parser.parse_args()
    pin_one_core()
    warnings.simplefilter("ignore")
    os.environ.setdefault("SONGSCOPE_MODEL_DIR", str(SHARED / "checkpoints" / "stone"))
    os.environ.setdefault("SONGSCOPE_OFFLINE", "1")
    start = time.perf_counter()
    folders = {name: corpus(name, args.engine) for name in CORPORA}
    report: dict = {"benchmark": "songscope-synthetic", "synth_engine": args.engine,
                    "corpus_seconds": round(time.perf_counter() - start, 1), "corpora": {}}
    for name, folder in folders.items():
        entry: dict = {"tracks": len(read_annotations(folder / "annotations")), "classic": run_analyze(folder)}
        if (Path(os.environ["SONGSCOPE_MODEL_DIR"]) / "semitone_ks.pt").exists():
            import torch

            torch.set_num_threads(1)
            for model in ("stone12", "stone24"):
                entry[model] = run_key_model(folder, model)
        if args.peers:
            for peer in ("librosa", "madmom"):
                try:
                    __import__(peer)
                except ImportError:
                    entry[peer] = "not installed"
                    continue
                entry[peer] = run_peer_beats(folder, peer)
        report["corpora"][name] = entry
    if args.separation_tracks > 0:
        tracks = find_tracks(folders["songs"])[:args.separation_tracks]
        engines = {"classic": "classic", **dict(item.split("=", 1) for item in args.separation_model)}
        report["separation"] = {"corpus": "songs", "tracks": len(tracks), **{
            name: evaluate_engine(model, tracks, CACHE / "run_separation" / name, name)
            for name, model in engines.items()}}
    report["covers"] = "no songscope engine yet"
    print(json.dumps(report))


if __name__ == "__main__":
    main()
