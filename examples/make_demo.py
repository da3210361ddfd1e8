"""Render the bundled example song (license-clean: composed and synthesised by songscope).

    python examples/make_demo.py

writes ``examples/demo_song.ogg`` and its exact ground truth ``examples/demo_song.truth.json``
(songscope result JSON: beats, downbeats, positions, sections, key).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from songscope.audio.save import save_audio
from songscope.result import save_result
from songscope.synth import make_song, render_song
from songscope.synth.dataset import song_truth

HERE = Path(__file__).resolve().parent
FORM = (("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8), ("outro", 4))


def main() -> None:
    song = make_song(seed=7, tempo=120.0, beats_per_bar=4, tonic=2, minor=False, form=FORM)
    stems = render_song(song, sample_rate=44100, seed=7)
    audio = HERE / "demo_song.ogg"
    save_audio(audio, stems["mixture"], 44100, subtype="VORBIS")
    truth = song_truth(song, audio.name, duration=float(len(stems["mixture"]) / 44100))
    save_result(truth, HERE / "demo_song.truth.json")
    print(f"wrote {audio} ({song.duration:.1f} s, {song.key}, {song.tempo:.0f} BPM) and its ground truth")
    assert np.isfinite(stems["mixture"]).all()


if __name__ == "__main__":
    main()
