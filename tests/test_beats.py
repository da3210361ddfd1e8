"""Classic beat tracking on synthetic songs with exact beats and on annotated real music."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from songscope.audio import load_mono
from songscope.audio.features import compute_features, num_frames
from songscope.beats import beat_activation, bpm_from_beats, tempo_from_activation, track_beats
from songscope.beats.dbn import decode_beats
from songscope.beats.track import CLASSIC_DBN, _second_pass_range

from .conftest import BEATS_DIR, SR, need

mir_eval = pytest.importorskip("mir_eval")


@pytest.mark.parametrize("fixture,meter", [("song44", 4), ("song34", 3)])
def test_synthetic_beats_downbeats_and_meter(request, fixture, meter):
    song, stems = request.getfixturevalue(fixture)
    track = track_beats(compute_features(stems["mixture"], SR))
    ref, pos = song.beats()
    assert track.beats_per_bar == meter
    assert mir_eval.beat.f_measure(ref, track.beats) >= 0.97
    assert mir_eval.beat.f_measure(ref[pos == 1], track.downbeats) >= 0.95
    assert track.bpm == pytest.approx(song.tempo, rel=0.01)
    # annotated positions count 1..meter in order
    assert set(np.unique(track.positions)) == set(range(1, meter + 1))


def test_activation_peaks_sit_on_drum_onsets(song44):
    song, stems = song44
    features = compute_features(stems["drums"], SR)
    act = beat_activation(features)
    assert act.shape == (num_frames(len(stems["drums"]), SR),)
    assert 0 < act.min() and act.max() < 1
    ref, _ = song.beats()
    frames = np.round(ref * 100).astype(int)
    near = np.array([act[max(f - 2, 0):f + 3].max() for f in frames])
    assert np.median(near) > 5 * np.median(act)


def test_tempo_from_activation_of_a_click_track():
    fps, bpm = 100.0, 96.0
    act = np.zeros(3000)
    act[np.round(np.arange(0.3, 29.5, 60.0 / bpm) * fps).astype(int)] = 1.0
    candidates = tempo_from_activation(act, fps)
    assert candidates[0][0] == pytest.approx(bpm, rel=0.01)
    assert sum(s for _, s in candidates) == pytest.approx(1.0)
    assert bpm_from_beats(np.arange(10) * 0.5) == pytest.approx(120.0)
    assert bpm_from_beats(np.array([1.0])) is None


@pytest.mark.parametrize("name,min_f", [("ballroom_Media-105901", 0.85), ("gtzan_country_00000", 0.7)])
def test_real_music_beats(name, min_f):
    ref = np.loadtxt(need(BEATS_DIR / f"{name}.beats"), comments="#")
    mono, _ = load_mono(BEATS_DIR / f"{name}.wav", SR)
    track = track_beats(compute_features(mono, SR))
    score = mir_eval.beat.f_measure(ref[:, 0], track.beats)
    assert score >= min_f, f"{name}: beat F-measure {score:.3f}"
    ibi = np.median(np.diff(ref[:, 0]))
    assert track.bpm == pytest.approx(60 / ibi, rel=0.05)


def test_waltz_is_decoded_in_three():
    ref = np.loadtxt(need(BEATS_DIR / "ballroom_Media-105901.beats"), comments="#")
    mono, _ = load_mono(BEATS_DIR / "ballroom_Media-105901.wav", SR)
    track = track_beats(compute_features(mono, SR))
    assert track.beats_per_bar == 3
    assert mir_eval.beat.f_measure(ref[ref[:, 1] == 1, 0], track.downbeats) >= 0.8


def test_a_tempo_at_the_bound_of_the_range_is_held():
    # 55 BPM (a beat every 109.1 frames) is the classic range's lowest tempo: its longest interval
    # state is 109 frames, and a decoder without 110 to alternate with drifts and pulls beats off
    # onto the compound beat's eighths (main's second pass: 10 % of the beats more than 30 ms off)
    rng = np.random.default_rng(0)
    period = 60.0 / 55.0
    times = 0.5 + period * np.arange(90)
    activation = np.full(int(times[-1] * 100) + 100, 0.02)
    for fraction, level in ((1 / 3, 0.6), (2 / 3, 0.6), (0.0, 0.9)):  # 6/8: three eighths a beat
        activation[np.round((times + fraction * period) * 100 + rng.integers(-1, 2, len(times))).astype(int)] = level
    config = replace(_second_pass_range(times, CLASSIC_DBN), beats_per_bar=(1,))
    beats = decode_beats(activation, config)
    assert len(beats) == len(times)
    assert np.all(np.min(np.abs(beats[:, None] - times[None]), axis=1) < 0.03)
