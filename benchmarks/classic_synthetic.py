"""The classic engine on seeded synthetic songs with exact ground truth.

Renders N songs (seeds 0..N-1; every third in 3/4, the rest in 4/4; 80-140 BPM; random
key; form intro-verse-chorus-verse-chorus-bridge-chorus-outro) and prints one JSON object
with mean beat F-measure, downbeat F-measure, meter accuracy, tempo accuracy (within 4 %),
key accuracy and key-signature accuracy, boundary hit rates (HR.5F, HR3F) and pairwise
frame clustering F (PWF) of the sections.

    python benchmarks/classic_synthetic.py [N]
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np

from songscope.audio.features import ANALYSIS_SR, compute_features
from songscope.beats.track import track_beats
from songscope.key.classic import estimate_key_classic
from songscope.structure.classic import segment_classic
from songscope.synth import make_song, render_song

FORM = (("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8), ("bridge", 4),
        ("chorus", 8), ("outro", 4))


def main() -> None:
    import mir_eval

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    rows = []
    for seed in range(count):
        meter = 3 if seed % 3 == 2 else 4
        song = make_song(seed=seed, beats_per_bar=meter, form=FORM)
        mix = render_song(song, ANALYSIS_SR, seed=seed)["mixture"]
        feats = compute_features(mix, ANALYSIS_SR)
        track = track_beats(feats)
        est = segment_classic(feats, track.beats, track.downbeats, len(mix) / ANALYSIS_SR)
        key = estimate_key_classic(mix, ANALYSIS_SR)
        beats, pos = song.beats()
        ref_iv = np.array([(a, b) for a, b, _ in song.sections()])
        est_iv = np.array([(s.start, s.end) for s in est.segments])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows.append({
                "beat_F": mir_eval.beat.f_measure(beats, track.beats),
                "downbeat_F": mir_eval.beat.f_measure(beats[pos == 1], track.downbeats),
                "meter_acc": float(track.beats_per_bar == meter),
                "tempo_acc4": float(track.bpm is not None and abs(track.bpm / song.tempo - 1) <= 0.04),
                "key_acc": float(key.key == song.key),
                "key_signature_acc": float(key.key_signature == song.key_signature),
                "HR.5F": mir_eval.segment.detection(ref_iv, est_iv, window=0.5)[2],
                "HR3F": mir_eval.segment.detection(ref_iv, est_iv, window=3)[2],
                "PWF": mir_eval.segment.pairwise(ref_iv, [lab for *_, lab in song.sections()],
                                                 est_iv, [s.label for s in est.segments])[2],
            })
    mean = {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]}
    print(json.dumps({"benchmark": "classic-on-synthetic-songs", "songs": count, "mean": mean}))


if __name__ == "__main__":
    main()
