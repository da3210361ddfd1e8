"""Speed and memory of ``analyze`` with the classic engine.

Prints one JSON object:
- ``rtf_3min``: real-time factor (audio seconds per second of processing) analysing a
  3-minute 44.1 kHz stereo FLAC on one core, start-up (imports, first-call caches) excluded;
  the best of 3 runs and the per-stage split of the last one;
- ``peak_rss_mb_60min``: peak resident memory of a fresh process analysing a 60-minute
  44.1 kHz stereo FLAC (``analyze`` with JSON output only), and its wall time.

    python benchmarks/speed.py [--skip-long]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import pin_one_core, song_file  # noqa: E402

pin_one_core()

from songscope.audio import load_mono  # noqa: E402
from songscope.audio.features import ANALYSIS_SR, compute_features  # noqa: E402
from songscope.beats.track import track_beats  # noqa: E402
from songscope.key.classic import estimate_key_classic  # noqa: E402
from songscope.pipeline import analyze_file  # noqa: E402
from songscope.structure.classic import segment_classic  # noqa: E402


def stages(path: Path) -> dict:
    """Seconds spent in each stage of one analysis."""
    out = {}
    t = time.perf_counter()
    mono, _ = load_mono(path, ANALYSIS_SR)
    out["decode_resample"] = time.perf_counter() - t
    t = time.perf_counter()
    feats = compute_features(mono, ANALYSIS_SR)
    out["features"] = time.perf_counter() - t
    t = time.perf_counter()
    track = track_beats(feats)
    out["beats_dbn"] = time.perf_counter() - t
    t = time.perf_counter()
    segment_classic(feats, track.beats, track.downbeats, len(mono) / ANALYSIS_SR)
    out["structure"] = time.perf_counter() - t
    t = time.perf_counter()
    estimate_key_classic(mono, ANALYSIS_SR)
    out["key"] = time.perf_counter() - t
    return {k: round(v, 3) for k, v in out.items()}


def main() -> None:
    report: dict = {"benchmark": "analyze-classic-speed", "cores": 1}
    short = song_file(180)
    analyze_file(song_file(20))  # warm-up: imports, FFT plans, kernels
    times = []
    for _ in range(3):
        t = time.perf_counter()
        analyze_file(short)
        times.append(time.perf_counter() - t)
    report["rtf_3min"] = round(180.0 / min(times), 1)
    report["seconds_3min"] = round(min(times), 3)
    report["stages_3min"] = stages(short)
    if "--skip-long" not in sys.argv:
        long = song_file(3600)
        code = ("import resource, time, sys; t=time.perf_counter(); "
                "from songscope.pipeline import analyze_file; r = analyze_file(sys.argv[1]); "
                "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, len(r.beats))")
        proc = subprocess.run([sys.executable, "-c", code, str(long)], capture_output=True, text=True, check=True)
        seconds, rss_kb, beats = proc.stdout.split()
        report["peak_rss_mb_60min"] = round(int(rss_kb) / 1024, 1)
        report["seconds_60min"] = round(float(seconds), 1)
        report["beats_60min"] = int(beats)
    report["self_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
