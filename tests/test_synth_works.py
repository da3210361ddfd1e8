"""Works and versions: determinism, what covers share and change, exact ground truth,
designed dynamics, and meters."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from songscope.errors import ConfigError
from songscope.synth import render_song
from songscope.synth.works import DRUM_STYLES, METERS, Version, arrange, compose_work, make_versions


def _first_work(meter: str):
    return next(w for w in map(compose_work, range(200)) if w.time_signature == meter)


def test_works_and_versions_are_deterministic_across_processes():
    code = ("from songscope.synth.works import compose_work, make_versions, arrange;"
            "w = compose_work(3); v = make_versions(w, 4, 1);"
            "s = arrange(w, v[2]); print(w.tonic, w.tempo, [x.version_id for x in v], v[2].transpose,"
            " v[2].drum_style, round(sum(n.start for n in s.parts['vocals']), 6), len(s.drums))")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": str(seed), "PATH": ""}).stdout for seed in (1, 2)}
    assert len(runs) == 1
    assert compose_work(3) == compose_work(3)


def test_covers_change_key_tempo_style_and_form_but_keep_melody_and_harmony():
    work = compose_work(5)
    original, *covers = make_versions(work, 4, seed=0)
    assert original.transpose == 0 and original.tempo_factor == 1.0 and original.form is None
    base = arrange(work, original)
    for cover in covers:
        assert cover.transpose != 0 and 0.75 <= cover.tempo_factor <= 1.25
        assert cover.drum_style in DRUM_STYLES
        song = arrange(work, cover)
        assert song.tonic == (work.tonic + cover.transpose) % 12 and song.minor == work.minor
        # the first verse's melody: same rhythm in beats, pitch classes moved by the transposition
        def first_verse(s):
            start, end = next((a, b) for a, b, label in s.sections() if label == "verse")
            notes = [n for n in s.parts["vocals"] if start - 0.05 <= n.start < end - 0.05]
            return [round((n.start - start) / s.beat_period * 4) / 4 for n in notes], [n.pitch % 12 for n in notes]
        rhythm, pcs = first_verse(base)
        cover_rhythm, cover_pcs = first_verse(song)
        assert cover_rhythm == rhythm
        assert cover_pcs == [(p + cover.transpose) % 12 for p in pcs]
        labels = [label for label, _ in cover.form]
        assert set(labels) <= {label for label, _ in work.form} and labels[0] == "intro" and labels[-1] == "outro"


def test_ground_truth_is_exact_and_hits_sit_on_the_grid():
    work = compose_work(8)
    version = make_versions(work, 2, seed=3)[1]
    song = arrange(work, version)
    beats, positions = song.beats()
    np.testing.assert_allclose(np.diff(beats), 60 / song.tempo)
    assert positions.max() == work.beats_per_bar
    sections = song.sections()
    assert sections[0][0] == 0.0 and sections[-1][1] == pytest.approx(song.duration)
    assert all(a[1] == pytest.approx(b[0]) for a, b in zip(sections, sections[1:]))
    kicks = np.array([h.time for h in song.drums if h.kind == "kick"])
    offsets = np.min(np.abs(kicks[:, None] - beats[None, :]), axis=1)
    assert offsets.max() <= 2.5 * version.timing_jitter + 1e-9  # humanised, never more than 2.5 sigma
    assert 0.001 < offsets.std() < 0.01


@pytest.mark.parametrize("meter", list(METERS))
def test_meters(meter):
    work = _first_work(meter) if meter != "2/4" else compose_work(0, meter=meter)  # 2/4 is never drawn
    song = arrange(work, Version("v"))
    assert song.time_signature == meter and song.beats_per_bar == METERS[meter][0]
    hats = sorted(h.time for h in song.drums if h.kind == "hat")
    pulse = song.beat_period / METERS[meter][1]
    steps = np.round(np.diff(hats) / pulse)
    assert np.median(steps) == 1  # hats on the subdivision grid: eighths, in threes under 6/8


def test_choruses_are_louder_and_denser_than_verses():
    work = next(w for w in map(compose_work, range(50)) if w.time_signature == "4/4")
    song = arrange(work, make_versions(work, 1)[0])
    audio = render_song(song, 22050, seed=0)["mixture"]
    energy = {"verse": [], "chorus": []}
    onsets = {"verse": [], "chorus": []}
    for start, end, label in song.sections():
        if label in energy:
            energy[label].append(np.sqrt(np.mean(audio[int(start * 22050):int(end * 22050)] ** 2)))
            notes = sum(start <= n.start < end for part in song.parts.values() for n in part)
            onsets[label].append(notes / (end - start))
    assert np.mean(energy["chorus"]) > 1.2 * np.mean(energy["verse"])
    assert np.mean(onsets["chorus"]) > 1.5 * np.mean(onsets["verse"])


def test_dataset_layout_exact_sums_truth_and_evaluation(cli, tmp_path):
    import csv

    import soundfile as sf

    out = tmp_path / "corpus"
    res = cli("synth", out, "--works", "2", "--versions", "2", "--engine", "numpy", "--test-fraction", "0.5",
              "--sample-rate", "22050", "-q")
    assert res.code == 0, res.err
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    assert [r["track"] for r in rows] == ["work0000_v0", "work0000_v1", "work0001_v0", "work0001_v1"]
    assert len({r["split"] for r in rows}) == 2 and rows[0]["split"] == rows[1]["split"]  # a work keeps its split
    for row in rows:
        folder = out / row["split"] / row["track"]
        mixture, sr = sf.read(folder / "mixture.wav")
        stems = [sf.read(folder / f"{name}.wav")[0] for name in ("bass", "drums", "other", "vocals")]
        assert sr == 22050 and mixture.shape[1] == 2
        assert np.array_equal(mixture, sum(stems))
        truth = json.loads((out / row["annotation"]).read_text())
        assert truth["key"] == row["key"] and truth["time_signature"] == row["time_signature"]
        assert (out / "mixtures" / f"{row['track']}.wav").resolve() == (folder / "mixture.wav").resolve()
    assert cli("synth", out, "--works", "1", "--versions", "1", "--engine", "numpy", "--seed", "9", "-q").code == 2
    key = cli("evaluate", "key", out / "annotations", out / "annotations", "--json")
    assert key.code == 0 and '"exact": 1.0' in key.out


def test_a_chosen_meter_replaces_the_drawn_one():
    drawn, chosen = compose_work(4), compose_work(4, meter="6/8")
    assert chosen.time_signature == "6/8" and chosen.form == drawn.form and 50 <= chosen.tempo <= 80
    assert compose_work(4, meter=drawn.time_signature) == drawn
    with pytest.raises(ConfigError, match="unknown meter"):
        compose_work(4, meter="5/4")
