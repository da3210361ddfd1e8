"""Time and peak memory of ``songscope evaluate separation`` on one 3-minute track.

The reference is a synthetic 44.1 kHz stereo multitrack (bass, drums, other, vocals) of 180 s;
the estimate is every stem with 10 % of the next stem leaked into it plus noise at -30 dB, so
that the scores are finite and distinct. The evaluation runs in a fresh process, start-up
included. Prints one JSON object: seconds, peak RSS (MB) and the scores.

    python benchmarks/evaluate_speed.py [--seconds 180]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE, LONG_FORM  # noqa: E402

from songscope.conventions import STEMS  # noqa: E402
from songscope.synth import make_song, render_song  # noqa: E402


def corpus(seconds: float) -> tuple[Path, Path]:
    """Reference and estimate folders of one track (rendered once into the benchmark cache)."""
    root = CACHE / f"evaluate_{int(seconds)}s"
    ref, est = root / "ref" / "track", root / "est" / "track"
    if (est / "vocals.wav").exists():
        return ref.parent, est.parent
    stems = render_song(make_song(seed=42, tempo=112.0, beats_per_bar=4, tonic=7, form=LONG_FORM), 44100, seed=42)
    total = int(seconds * 44100)
    rng = np.random.default_rng(0)
    ref.mkdir(parents=True, exist_ok=True)
    est.mkdir(parents=True, exist_ok=True)
    waves = {s: np.resize(stems[s], total) for s in STEMS}
    for i, stem in enumerate(STEMS):
        left, right = waves[stem], np.roll(waves[stem], 7)
        reference = np.stack([left, right], axis=1)
        leak = 0.1 * np.stack([waves[STEMS[(i + 1) % 4]]] * 2, axis=1)
        noise = 0.03 * np.std(reference) * rng.standard_normal(reference.shape)
        sf.write(ref / f"{stem}.wav", reference, 44100, subtype="FLOAT")
        sf.write(est / f"{stem}.wav", reference + leak + noise, 44100, subtype="FLOAT")
    return ref.parent, est.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="track length (default 180)")
    args = parser.parse_args()
    ref, est = corpus(args.seconds)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "songscope.cli", "evaluate", "separation", str(ref), str(est),
                           "--json"], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"benchmark": "evaluate-separation", "track_seconds": args.seconds,
                      "seconds": round(seconds, 2), "peak_rss_mb": round(peak, 1),
                      "scores": json.loads(proc.stdout)["mean"]}))


if __name__ == "__main__":
    main()
