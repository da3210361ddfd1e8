"""The classic covers engine: 2DFTM fingerprints of beat-synchronous chroma and Qmax re-ranking."""

from __future__ import annotations

import numpy as np
import pytest

from songscope.audio.signal import Audio
from songscope.covers.classic import (MIN_BEATS, ClassicCovers, QmaxSettings, block_chroma, cross_recurrence,
                                      fingerprint, optimal_transposition, qmax, qmax_distance)
from songscope.errors import AudioError
from songscope.models import load_engine
from songscope.synth import render_song
from songscope.synth.works import Version, arrange, compose_work

SR = 22050
FORM = (("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8))


def _version(work, **changes) -> np.ndarray:
    """A performance of ``work`` (32 bars, numpy instruments, default programs) as mono samples."""
    song = arrange(work, Version("v", form=FORM, seed=1, **changes))
    return render_song(song, SR, seed=1)["mixture"]


@pytest.fixture(scope="module")
def fingerprints():
    """Fingerprints (and beat chroma) of a work (seed 1, G# minor, 124 BPM) as written, transposed
    up 3 semitones, 15 % faster, and of another work at the first one's tempo (seed 7, whose verse and
    chorus chord cycles differ from seed 1's: seed 3's are the same cycles, a harmonic near-cover)."""
    engine = load_engine("covers", "classic")
    assert isinstance(engine, ClassicCovers)
    work, other = compose_work(1), compose_work(7)
    songs = {"original": _version(work), "transposed": _version(work, transpose=3),
             "faster": _version(work, tempo_factor=1.15),
             "other": _version(other, tempo_factor=work.tempo / other.tempo)}
    return {name: engine.predict(Audio.from_array(mix, SR)) for name, mix in songs.items()}


def _cosine(a, b) -> float:
    return 1.0 - float(a.vector @ b.vector)


def test_the_fingerprint_is_a_unit_vector_of_the_2dftm(fingerprints):
    e = fingerprints["original"]
    assert e.vector.shape == (456,) and e.vector.dtype == np.float32
    assert np.linalg.norm(e.vector) == pytest.approx(1.0, abs=1e-6) and e.model == "classic"
    assert e.sequence.shape[1] == 12 and e.sequence.max() == pytest.approx(1.0)
    assert e.frames.shape[1] == 456 and e.frames.shape[0] >= 1


def test_block_chroma_averages_fixed_blocks_and_keeps_the_last_partial_one():
    frames = np.random.default_rng(0).random((21, 12))
    blocks = block_chroma(frames, 8)
    assert blocks.shape == (3, 12)
    expected = frames[16:].mean(axis=0)
    assert np.allclose(blocks[2], expected / expected.max(), atol=1e-6)


def test_rotating_the_chroma_leaves_the_fingerprint_exactly_unchanged():
    sequence = np.random.default_rng(1).random((90, 12))
    vector, _ = fingerprint(sequence)
    for shift in (1, 3, 7):
        rotated, _ = fingerprint(np.roll(sequence, shift, axis=1))
        assert np.allclose(rotated, vector, atol=1e-6)


def test_transposed_and_faster_versions_lie_closer_than_another_work(fingerprints):
    original = fingerprints["original"]
    other = _cosine(original, fingerprints["other"])
    transposed = _cosine(original, fingerprints["transposed"])
    faster = _cosine(original, fingerprints["faster"])
    assert transposed < other / 3
    assert faster < other / 2


def test_qmax_scores_known_cross_recurrence_plots():
    assert qmax(np.eye(10, dtype=bool)) == 10.0
    # a path of (2, 1) steps: the second recording plays at half the speed
    slow = np.zeros((12, 6), dtype=bool)
    slow[np.arange(0, 12, 2), np.arange(6)] = True
    assert qmax(slow) == 6.0
    # a diagonal of 11 cells with the middle one missing: the disruption costs `onset`
    gap = np.eye(11, dtype=bool)
    gap[5, 5] = False
    assert qmax(gap, onset=5.0, extension=0.5) == 5.0  # 5 - 5 = 0, then 5 more
    assert qmax(gap, onset=1.0, extension=0.5) == 9.0  # 5 - 1 = 4, then 5 more
    assert qmax(np.zeros((4, 4), dtype=bool)) == 0.0


def _naive_qmax(plot: np.ndarray, onset: float, extension: float) -> float:
    """Serrà et al. 2009, eq. (3)-(4), cell by cell (cells before the plot score 0)."""
    rows, cols = plot.shape
    score = np.zeros((rows, cols))

    def at(i, j):
        return score[i, j] if i >= 0 and j >= 0 else 0.0

    def penalty(i, j):
        return (onset if plot[i, j] else extension) if i >= 0 and j >= 0 else extension

    for i in range(rows):
        for j in range(cols):
            steps = [(i - 1, j - 1), (i - 2, j - 1), (i - 1, j - 2)]
            if plot[i, j]:
                score[i, j] = max(at(a, b) for a, b in steps) + 1.0
            else:
                score[i, j] = max([0.0] + [at(a, b) - penalty(a, b) for a, b in steps])
    return float(score.max())


def _naive_recurrence(query: np.ndarray, reference: np.ndarray, m: int, kappa: float) -> np.ndarray:
    """Delay vectors, their distances and the row / column quantile test, pair by pair."""
    x = [query[i:i + m].ravel() for i in range(len(query) - m + 1)]
    y = [reference[j:j + m].ravel() for j in range(len(reference) - m + 1)]
    distance = np.array([[np.sqrt(((a - b) ** 2).sum()) for b in y] for a in x])
    plot = np.zeros(distance.shape, dtype=bool)
    for i in range(len(x)):
        for j in range(len(y)):
            plot[i, j] = (distance[i, j] <= np.quantile(distance[i], kappa)
                          and distance[i, j] <= np.quantile(distance[:, j], kappa))
    return plot


def test_qmax_equals_a_cell_by_cell_reference_on_random_plots():
    rng = np.random.default_rng(3)
    for trial in range(20):
        plot = rng.random((int(rng.integers(1, 25)), int(rng.integers(1, 25)))) < rng.uniform(0.1, 0.7)
        onset, extension = float(rng.choice([0.5, 1.0, 5.0])), float(rng.choice([0.0, 0.5, 1.0]))
        assert qmax(plot, onset, extension) == _naive_qmax(plot, onset, extension)


def test_cross_recurrence_equals_a_pair_by_pair_reference():
    rng = np.random.default_rng(4)
    settings = QmaxSettings(embedding=3, kappa=0.2)
    query, reference = rng.random((17, 12)), rng.random((23, 12))
    assert np.array_equal(cross_recurrence(query, reference, settings), _naive_recurrence(query, reference, 3, 0.2))


def test_qmax_distance_is_transposition_invariant_and_separates_works(fingerprints):
    original = fingerprints["original"].sequence
    assert optimal_transposition(original, np.roll(original, 4, axis=1)) == 8
    plot = cross_recurrence(original, original)
    assert plot.shape == (len(original) - 8,) * 2 and plot.diagonal().all()
    itself = qmax_distance(original, original)
    assert itself == pytest.approx(np.sqrt(len(original)) / (len(original) - 8))
    assert qmax_distance(original, np.roll(original, 5, axis=1)) == pytest.approx(itself)
    same = qmax_distance(original, fingerprints["transposed"].sequence)
    other = qmax_distance(original, fingerprints["other"].sequence)
    assert same < other / 2
    with pytest.raises(AudioError, match="too few"):
        qmax_distance(original[:5], original, QmaxSettings())


def test_the_fused_re_ranking_puts_the_transposed_and_faster_versions_first(fingerprints):
    engine = load_engine("covers", "classic")
    query = fingerprints["original"]
    ranked = sorted(["other", "faster", "transposed"], key=lambda name: engine.rerank_distance(
        query.sequence, fingerprints[name].sequence, _cosine(query, fingerprints[name])))
    assert ranked[-1] == "other"
    # a transposed copy of the query's own chroma aligns end to end: the nearest possible
    copy = np.roll(query.sequence, 5, axis=1)
    assert engine.rerank_distance(query.sequence, copy, 0.0) == 0.0
    itself = engine.rerank_distance(query.sequence, copy)
    assert itself == pytest.approx(np.sqrt(len(copy)) / (len(copy) - 8))
    for name in ("transposed", "faster", "other"):
        assert itself <= engine.rerank_distance(query.sequence, fingerprints[name].sequence)


def test_a_recording_with_too_few_beats_is_a_one_line_error():
    engine = load_engine("covers", "classic")
    mix = _version(compose_work(1))
    with pytest.raises(AudioError, match=f"needs at least {MIN_BEATS}"):
        engine.predict(Audio.from_array(mix[: 5 * SR], SR))
    with pytest.raises(AudioError, match="too short"):
        fingerprint(np.ones((MIN_BEATS - 1, 12)))
