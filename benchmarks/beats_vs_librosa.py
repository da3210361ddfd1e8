"""Beat and downbeat accuracy of the classic engine against librosa on ../shared/data/beats.

Prints one JSON object: per track and on average, mir_eval beat F-measure, CMLt and AMLt
for songscope (classic engine: features -> activations -> bar-pointer DBN) and
``librosa.beat.beat_track``, plus songscope's downbeat F-measure. Beats are scored over
the whole excerpt (no 5 s trimming: the clips are 3-30 s long).

    python benchmarks/beats_vs_librosa.py
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED  # noqa: E402

from songscope.audio import load_mono  # noqa: E402
from songscope.audio.features import ANALYSIS_SR, compute_features  # noqa: E402
from songscope.beats.track import track_beats  # noqa: E402

TRACKS = ("ballroom_Media-105901", "gtzan_country_00000", "madmom_sample")


def scores(reference: np.ndarray, estimate: np.ndarray) -> dict:
    import mir_eval

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = mir_eval.beat.f_measure(reference, estimate)
        _, cmlt, _, amlt = mir_eval.beat.continuity(reference, estimate)
    return {"F": round(float(f), 4), "CMLt": round(float(cmlt), 4), "AMLt": round(float(amlt), 4)}


def main() -> None:
    import librosa
    import mir_eval

    folder = SHARED / "data" / "beats"
    if not folder.exists():
        print(json.dumps({"benchmark": "beats-vs-librosa", "skipped": f"{folder} not present"}))
        return
    rows = {}
    for name in TRACKS:
        ref = np.loadtxt(folder / f"{name}.beats", comments="#", ndmin=2)
        beats, down = ref[:, 0], ref[ref[:, 1] == 1, 0]
        mono, _ = load_mono(folder / f"{name}.wav", ANALYSIS_SR)
        track = track_beats(compute_features(mono, ANALYSIS_SR))
        _, lib_beats = librosa.beat.beat_track(y=mono, sr=ANALYSIS_SR, units="time")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            down_f = mir_eval.beat.f_measure(down, track.downbeats)
        rows[name] = {"songscope": {**scores(beats, track.beats), "downbeat_F": round(float(down_f), 4),
                                    "meter": track.beats_per_bar},
                      "librosa": scores(beats, lib_beats)}
    mean = {system: {metric: round(float(np.mean([r[system][metric] for r in rows.values()])), 4)
                     for metric in ("F", "CMLt", "AMLt")} for system in ("songscope", "librosa")}
    mean["songscope"]["downbeat_F"] = round(float(np.mean([r["songscope"]["downbeat_F"] for r in rows.values()])), 4)
    print(json.dumps({"benchmark": "beats-vs-librosa", "librosa_version": librosa.__version__,
                      "tracks": rows, "mean": mean,
                      "songscope_beats_librosa": mean["songscope"]["F"] > mean["librosa"]["F"]}))


if __name__ == "__main__":
    main()
