"""The downbeat cue, the meter choice and the per-track tempo prior of the classic beat tracker,
checked on synthetic songs with exact beats and on click tracks."""

from __future__ import annotations

import numpy as np
import pytest

from songscope.audio.features import compute_features
from songscope.beats import (DBNConfig, choose_meter, comb_tempo_prior, decode_downbeats, downbeat_cue,
                             downbeat_densities, downbeat_probability, onset_strength)

from .conftest import SR


def _clicks(bpm: float, seconds: float = 30.0, accent_every: int = 4, fps: float = 100.0) -> np.ndarray:
    act = np.full(int(seconds * fps), 0.01)
    for i, t in enumerate(np.arange(0.5, seconds - 0.5, 60.0 / bpm)):
        act[int(round(t * fps))] = 0.9 if i % accent_every == 0 else 0.6
    return act


def test_comb_prior_prefers_the_tempo_and_its_octaves_over_unrelated_tempi():
    prior = comb_tempo_prior(_clicks(120.0), 100.0)
    weights = dict(zip((60.0, 80.0, 120.0, 180.0), prior(np.array([60.0, 80.0, 120.0, 180.0]))))
    assert weights[120.0] == pytest.approx(max(weights.values()), abs=0.1)
    assert weights[60.0] > weights[80.0] + 0.3 and weights[120.0] > weights[180.0] + 0.3
    assert min(weights.values()) >= np.log(0.3) - 1e-9  # bounded penalty


def test_neutral_cue_leaves_the_beat_evidence_alone():
    beat = np.random.default_rng(0).uniform(0.01, 0.9, 500)
    frames = np.arange(20, 480, 50)
    neutral = downbeat_probability(np.zeros(len(frames)), frames, len(beat))
    np.testing.assert_allclose(downbeat_densities(beat, neutral), np.stack([beat, beat], axis=1))
    strong = downbeat_probability(np.where(np.arange(len(frames)) % 4 == 0, 3.0, -1.0), frames, len(beat))
    dens = downbeat_densities(beat, strong)
    assert np.all(dens[frames[::4], 1] > beat[frames[::4]]) and np.all(dens[frames[1::4], 1] < beat[frames[1::4]])
    assert dens.max() < 1.0


def test_extreme_cue_keeps_every_density_positive():
    # a cue of thousands of standard units (near-constant audio) must not give a density of 0,
    # whose log (-inf) would turn the decoder's cumulative sums into NaN
    beat = np.full(400, 0.5)
    frames = np.arange(20, 380, 40)
    prob = downbeat_probability(np.where(np.arange(len(frames)) % 2 == 0, 1e4, -1e4), frames, len(beat))
    dens = downbeat_densities(beat, prob)
    assert np.all(dens > 0) and np.all(dens < 1)
    decoded, _ = decode_downbeats(dens, DBNConfig(beats_per_bar=(2,), threshold=0.0), no_beat=1.0 - beat)
    assert np.all(np.isfinite(decoded))


def test_explicit_no_beat_density_is_madmoms_default():
    act = np.random.default_rng(1).uniform(0.0, 0.45, (400, 2))
    default, _ = decode_downbeats(act, DBNConfig(beats_per_bar=(4,), threshold=0.0))
    explicit, _ = decode_downbeats(act, DBNConfig(beats_per_bar=(4,), threshold=0.0), no_beat=1.0 - act.sum(axis=1))
    np.testing.assert_array_equal(default, explicit)


@pytest.mark.parametrize("fixture,meter", [("song44", 4), ("song34", 3)])
def test_cue_peaks_on_downbeats_and_the_meter_is_heard(request, fixture, meter):
    song, stems = request.getfixturevalue(fixture)
    features = compute_features(stems["mixture"], SR)
    flux = onset_strength(features)
    times, positions = song.beats()
    frames = np.round(times * features.fps).astype(np.int64)
    cue = downbeat_cue(features, flux[:, 0], frames)
    down, other = cue[positions == 1], cue[positions != 1]
    # downbeats stand out: by half a standard unit on average, and most above three quarters of the other beats
    assert down.mean() >= other.mean() + 0.5
    assert np.mean(down > np.percentile(other, 75)) >= 2 / 3
    assert choose_meter(features, flux, frames, (3, 4)) == (meter,)
    assert choose_meter(features, flux, frames, (2, 3, 4)) == (meter,)
    assert choose_meter(features, flux, frames, (4,)) == (4,)  # nothing to choose
