"""How fast ``songscope synth`` renders and whether its ground truth holds, as one JSON object.

Speed: render (no file writing) of 6 versions of 2 works on one core, per engine, as a
real-time factor. Checks on every track of a corpus folder (default: the benchmark's covers
corpus, rendered on first use): mixture == sum of stems exactly; kick onsets against the
annotated downbeats that carry a hit (first frame where the 1 ms envelope has risen 10 %
towards the hit's peak; versions humanise onsets with a 5 ms standard deviation);
mean loudness of choruses over verses; key found by the classic chroma-template engine.

    python benchmarks/synth_check.py [FOLDER]
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from common import pin_one_core
from run import corpus

from songscope.key.api import estimate_key
from songscope.synth import render_song, render_song_soundfont
from songscope.synth.works import arrange, compose_work, make_versions

STEMS = ("bass", "drums", "other", "vocals")


def render_speed() -> dict:
    out = {}
    for engine in ("soundfont", "numpy"):
        audio_s = wall = 0.0
        for w in range(2):
            work = compose_work(500 + w)
            for version in make_versions(work, 3, seed=5):
                song = arrange(work, version)
                start = time.perf_counter()
                if engine == "soundfont":
                    render_song_soundfont(song, 44100, version.instrumentation())
                else:
                    render_song(song, 44100, seed=version.seed)
                wall += time.perf_counter() - start
                audio_s += song.duration
        out[engine] = {"audio_seconds": round(audio_s, 1), "realtime_factor": round(audio_s / wall, 1)}
    return out


def kick_offsets(drums: np.ndarray, sr: int, kicks: np.ndarray) -> list[float]:
    envelope = np.convolve(np.abs(drums).max(axis=1), np.ones(sr // 1000) / (sr // 1000), mode="same")
    out = []
    for t in kicks:
        a, b = int((t - 0.02) * sr), int((t + 0.03) * sr)
        if a < 0 or b > len(envelope):
            continue
        segment, base = envelope[a:b], np.median(envelope[a:a + int(0.01 * sr)])
        if segment.max() < 4 * base + 1e-4:
            continue  # no drum hit here (drum-less intro bars)
        out.append((a + int(np.argmax(segment > base + 0.1 * (segment.max() - base)))) / sr - t)
    return out


def check_track(folder: Path, annotation: dict) -> dict:
    audio = {name: sf.read(folder / f"{name}.wav", always_2d=True) for name in ("mixture", *STEMS)}
    sr = audio["mixture"][1]
    mixture = audio["mixture"][0]
    exact = bool(np.array_equal(mixture, sum(audio[name][0] for name in STEMS)))
    beats = np.array(annotation["beats"])
    positions = np.array(annotation["beat_positions"])
    offsets = kick_offsets(audio["drums"][0], sr, beats[positions == 1])
    loudness = {"verse": [], "chorus": []}
    for segment in annotation["segments"]:
        if segment["label"] in loudness:
            part = mixture[int(segment["start"] * sr):int(segment["end"] * sr)]
            loudness[segment["label"]].append(float(np.sqrt(np.mean(part ** 2))))
    ratio = np.mean(loudness["chorus"]) / np.mean(loudness["verse"]) if all(loudness.values()) else np.nan
    found = estimate_key(mixture.T, sr).key
    return {"sum_exact": exact, "downbeat_kick_offsets_ms": [1000 * o for o in offsets],
            "chorus_over_verse_rms": float(ratio), "key_ok": found == annotation["key"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=None)
    args = parser.parse_args()
    pin_one_core()
    folder = args.folder or corpus("covers", "soundfont")
    with open(folder / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    checks = [check_track(folder / row["split"] / row["track"],
                          json.loads((folder / row["annotation"]).read_text())) for row in rows]
    offsets = np.concatenate([c["downbeat_kick_offsets_ms"] for c in checks])
    ratios = np.array([c["chorus_over_verse_rms"] for c in checks])
    size = sum(f.stat().st_size for f in folder.rglob("*.wav") if not f.is_symlink())
    hours = sum(float(row["duration"]) for row in rows) / 3600
    print(json.dumps({
        "benchmark": "synth-check", "folder": str(folder), "tracks": len(rows), "audio_hours": round(hours, 3),
        "wav_gigabytes": round(size / 1e9, 2), "render_one_core": render_speed(),
        "sum_exact_tracks": sum(c["sum_exact"] for c in checks),
        "downbeat_kick_offset_ms": {"median": round(float(np.median(offsets)), 2),
                                    "p5": round(float(np.percentile(offsets, 5)), 2),
                                    "p95": round(float(np.percentile(offsets, 95)), 2),
                                    "max_abs": round(float(np.abs(offsets).max()), 2), "hits": int(offsets.size)},
        "chorus_over_verse_rms": {"min": round(float(np.nanmin(ratios)), 3),
                                  "median": round(float(np.nanmedian(ratios)), 3)},
        "key_recovered_tracks": sum(c["key_ok"] for c in checks)}))


if __name__ == "__main__":
    main()
