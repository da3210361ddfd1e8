"""The classic covers engine: 2DFTM fingerprints of beat-synchronous chroma and Qmax re-ranking."""

from __future__ import annotations

import numpy as np
import pytest

from songscope.audio.signal import Audio
from songscope.covers.classic import (MIN_BEATS, ClassicCovers, QmaxSettings, cross_recurrence, fingerprint,
                                      optimal_transposition, qmax, qmax_distance)
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
    assert e.frames.shape == (len(e.sequence) - 75 + 1, 456)


def test_rotating_the_chroma_leaves_the_fingerprint_exactly_unchanged(fingerprints):
    sequence = fingerprints["original"].sequence
    for shift in (1, 3, 7):
        rotated, _ = fingerprint(np.roll(sequence, shift, axis=1))
        assert np.allclose(rotated, fingerprints["original"].vector, atol=1e-6)


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
    with pytest.raises(AudioError, match="too few beats"):
        qmax_distance(original[:5], original, QmaxSettings())


def test_a_recording_with_too_few_beats_is_a_one_line_error():
    engine = load_engine("covers", "classic")
    mix = _version(compose_work(1))
    with pytest.raises(AudioError, match=f"needs at least {MIN_BEATS}"):
        engine.predict(Audio.from_array(mix[: 5 * SR], SR))
    with pytest.raises(AudioError, match="too short"):
        fingerprint(np.ones((MIN_BEATS - 1, 12)))
