"""The bar-pointer DBN: parity with madmom's recorded outputs, equality with a brute-force
Viterbi over the full state space, exact recovery of synthetic beats, and its settings."""

from __future__ import annotations

import numpy as np
import pytest

from songscope.beats.dbn import (DBNConfig, _bar_space, beat_intervals, decode_beats,
                                 decode_downbeats, _viterbi)
from songscope.errors import InputError

from .conftest import BEATS_DIR, need


def _reference_times(path):
    return np.loadtxt(path, comments="#", ndmin=2)


def test_beat_tracker_matches_madmom_exactly():
    act = np.load(need(BEATS_DIR / "madmom_reference" / "sample.beats_blstm.npz"))["activations"]
    expected = _reference_times(BEATS_DIR / "madmom_reference" / "sample.dbn_beat_tracker.txt")[:, 0]
    beats = decode_beats(act)  # madmom's DBNBeatTrackingProcessor defaults
    np.testing.assert_allclose(beats, expected, atol=1e-9)


def test_downbeat_tracker_matches_madmom_exactly():
    act = np.load(need(BEATS_DIR / "madmom_reference" / "sample.downbeats_blstm.npz"))["activations"]
    expected = _reference_times(BEATS_DIR / "madmom_reference" / "sample.dbn_downbeat_tracker.txt")
    beats, path = decode_downbeats(act, DBNConfig(beats_per_bar=(3, 4)))
    np.testing.assert_allclose(beats, expected, atol=1e-9)
    assert path.num_beats == 4


def test_madmom_interval_spacing():
    # 55..215 BPM at 100 fps: 82 integer intervals, reduced to 60 log-spaced ones
    iv = beat_intervals(6000 / 215, 6000 / 55, 60)
    assert len(iv) == 60 and iv[0] == 28 and iv[-1] == 109
    assert np.all(np.diff(iv) > 0)
    assert len(beat_intervals(10, 20, None)) == 11


def _brute_force(log_obs: np.ndarray, space) -> tuple[np.ndarray, float]:
    """Textbook Viterbi over the explicit state list, madmom's state order and tie-breaking."""
    states = [(b, j, p) for b in range(space.num_beats) for j, k in enumerate(space.intervals) for p in range(k)]
    index = {s: i for i, s in enumerate(states)}
    n = len(states)
    preds = [[] for _ in range(n)]
    for (b, j, p), i in index.items():
        if p > 0:
            preds[i].append((index[(b, j, p - 1)], 0.0))
        else:
            pb = (b - 1) % space.num_beats
            for jp, kp in enumerate(space.intervals):
                w = space.log_trans[jp, j]
                if np.isfinite(w):
                    preds[i].append((index[(pb, jp, kp - 1)], w))
        preds[i].sort()
    cls = np.array([space.region_class[b] if p < space.region[b, j] else 0 for b, j, p in states])
    v = np.full(n, -np.log(n))
    back = np.zeros((len(log_obs), n), dtype=int)
    for t in range(len(log_obs)):
        new = np.full(n, -np.inf)
        for i in range(n):
            for src, w in preds[i]:
                if v[src] + w > new[i]:
                    new[i], back[t, i] = v[src] + w, src
        v = new + log_obs[t, cls]
    state = int(np.argmax(v))
    path = [state]
    for t in range(len(log_obs) - 1, 0, -1):
        state = back[t, state]
        path.append(state)
    path = path[::-1]
    return np.array([states[s][0] * 1000 + states[s][2] for s in path]), float(v.max())


@pytest.mark.parametrize("num_beats,seed", [(1, 0), (2, 1), (3, 2)])
def test_semi_markov_viterbi_equals_brute_force(num_beats, seed):
    rng = np.random.default_rng(seed)
    config = DBNConfig(beats_per_bar=(num_beats,), min_bpm=60, max_bpm=130, fps=10, num_tempi=None,
                       transition_lambda=10, observation_lambda=4, tempo_prior=(90, 0.5))
    intervals = beat_intervals(60 * 10 / 130, 60 * 10 / 60, None)
    space = _bar_space(num_beats, intervals, config, downbeats=num_beats > 1)
    log_obs = np.log(rng.uniform(0.01, 1.0, size=(60, 3)))
    decoded = _viterbi(log_obs, space)
    expected, log_prob = _brute_force(log_obs, space)
    np.testing.assert_array_equal(decoded.beat * 1000 + decoded.position, expected)
    assert decoded.log_prob == pytest.approx(log_prob, rel=1e-12)


def _spikes(times, n, fps=100, value=0.9):
    act = np.full(n, 0.01)
    act[np.round(np.asarray(times) * fps).astype(int)] = value
    return act


@pytest.mark.parametrize("bpm", [62.0, 97.5, 128.0, 180.0])
def test_exact_recovery_of_synthetic_beats(bpm):
    period = 60.0 / bpm
    beats = np.round((0.5 + np.arange(int(25 / period)) * period) * 100) / 100
    # threshold 0.05 crops the spike-free head and tail, as madmom's threshold does
    found = decode_beats(_spikes(beats, int(27 * 100)), DBNConfig(beats_per_bar=(1,), max_bpm=215, threshold=0.05))
    np.testing.assert_allclose(found, beats, atol=1e-9)


@pytest.mark.parametrize("meter", [2, 3, 4])
def test_exact_recovery_of_downbeats_and_meter(meter):
    period = 0.5
    beats = np.round((1.0 + np.arange(48) * period) * 100) / 100
    n = int((beats[-1] + 1.0) * 100)
    act = np.full((n, 2), 0.01)
    frames = np.round(beats * 100).astype(int)
    down = np.arange(len(beats)) % meter == 0
    act[frames[~down], 0] = 0.9
    act[frames[down], 1] = 0.9
    found, path = decode_downbeats(act, DBNConfig(beats_per_bar=(2, 3, 4)))
    assert path.num_beats == meter
    np.testing.assert_allclose(found[:, 0], beats, atol=1e-9)
    np.testing.assert_array_equal(found[:, 1], np.arange(len(beats)) % meter + 1)


def test_user_tempo_range_excludes_the_true_tempo():
    beats = np.arange(1, 20, 0.5)  # 120 BPM
    act = _spikes(beats, 2100)
    slow = decode_beats(act, DBNConfig(beats_per_bar=(1,), min_bpm=40, max_bpm=80, threshold=0.05))
    assert np.median(np.diff(slow)) == pytest.approx(1.0, abs=0.02)  # half tempo, on the beats
    assert np.all(np.min(np.abs(slow[:, None] - beats[None, :]), axis=1) < 0.011)


def test_empty_and_invalid_activations():
    assert decode_beats(np.zeros(500)).size == 0
    beats, path = decode_downbeats(np.zeros((300, 2)))
    assert beats.shape == (0, 2) and path is None
    with pytest.raises(InputError):
        decode_beats(np.full(100, 1.5))
    with pytest.raises(InputError):
        decode_downbeats(np.zeros((100, 3)))
    with pytest.raises(InputError):
        DBNConfig(min_bpm=200, max_bpm=100)
