"""Repetition grouping and the harmony cue of the classic structure engine, on constructed
features (fast, no audio): segments that hold the same music must match however they are cut,
and a section heard once over another part's bass line must be told from one with new harmony."""

from __future__ import annotations

import numpy as np

from songscope.audio.features import Features, band_chroma
from songscope.structure.classic import _coverage, _harmony_match, _same_harmony
from songscope.structure.labelling import decode_labels

RNG = np.random.default_rng(0)


def _rows(n: int, dim: int = 96) -> np.ndarray:
    x = RNG.normal(size=(n, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_coverage_matches_the_same_music_however_it_is_cut():
    phrase = _rows(16)
    whole = np.vstack([phrase, phrase])  # a section that plays its phrase twice
    other = _rows(16)
    assert _coverage(phrase, whole) > 0.95  # half of it
    late = np.vstack([whole[4:], phrase[:4]])  # the same section cut a bar late
    assert _coverage(late, whole) > 0.9
    two_parts = np.vstack([phrase, other])  # the section run on into a different part
    assert 0.6 < _coverage(two_parts, phrase) < 0.85
    assert _coverage(other, whole) < 0.4
    assert abs(_coverage(phrase, two_parts) - _coverage(two_parts, phrase)) < 1e-9


def test_same_harmony_needs_every_bar_and_four_bars():
    verse = _rows(8, 12)
    assert _same_harmony(verse[:4], verse)
    bridge = np.vstack([verse[1:4], _rows(1, 12)])  # three of the verse's bars, then a new one
    assert not _same_harmony(bridge, verse)
    assert not _same_harmony(verse[:3], verse)  # too short to tell


def _bass_song(roots_per_section: list[list[int]], seconds_per_bar: float = 2.0, fps: float = 10.0):
    """Features whose only energy is one bass note per bar (MIDI 36 + root) and the cuts (s)."""
    roots = [r for section in roots_per_section for r in section]
    midi = np.arange(24.0, 96.0)
    frames = int(len(roots) * seconds_per_bar * fps)
    log_bands = np.zeros((frames, len(midi)), dtype=np.float32)
    per_bar = int(seconds_per_bar * fps)
    for i, root in enumerate(roots):
        log_bands[i * per_bar:(i + 1) * per_bar, 36 + root - 24] = 1.0
    zeros = np.zeros((frames, 12), dtype=np.float32)
    feats = Features(log_bands, midi, zeros, np.zeros((frames, 13), np.float32), np.zeros(frames, np.float32), fps)
    cuts = np.r_[0.0, np.cumsum([len(s) * seconds_per_bar for s in roots_per_section])]
    downbeats = np.arange(len(roots)) * seconds_per_bar
    grid = np.arange(0.0, cuts[-1] + 1e-9, seconds_per_bar / 4)
    return feats, downbeats, grid, cuts


def test_band_chroma_follows_the_bass_register():
    feats, *_ = _bass_song([[0, 7]])
    bass = band_chroma(feats, 30.0, 165.0)
    assert bass[0].argmax() == 0 and bass[25].argmax() == 7
    assert not band_chroma(feats, 200.0, 5000.0).any()


def test_a_section_heard_once_over_the_verse_bass_is_flagged_a_new_one_is_not():
    verse, chorus, bridge = [0, 9, 5, 7] * 2, [5, 7, 0, 0] * 2, [9, 5, 7, 7]
    groups = np.array([0, 1, 0, 1, 2, 1])
    feats, downbeats, grid, cuts = _bass_song([verse, chorus, verse, chorus, verse, chorus])
    assert _harmony_match(feats, downbeats, grid, cuts, groups, 2.0).tolist() == [
        False, False, False, False, True, False]  # only the once-heard part, not the verse it replays
    feats, downbeats, grid, cuts = _bass_song([verse, chorus, verse, chorus, bridge, chorus])
    assert not _harmony_match(feats, downbeats, grid, cuts, groups, 2.0).any()


def _decode(groups, bars, harmony=None):
    ends = np.cumsum(np.asarray(bars, dtype=float) * 2.0)
    starts = np.r_[0.0, ends[:-1]]
    return decode_labels(np.asarray(groups), starts, ends, np.zeros(len(groups)), harmony)


def test_back_to_back_segments_of_one_group_are_one_section():
    """A middle section cut in two (same group twice in a row) gets one label, as does a
    double chorus, and the labels are those of the uncut form."""
    uncut = _decode([0, 1, 2, 1, 2, 3, 2, 4], [4, 8, 8, 8, 8, 8, 16, 4])
    cut = _decode([0, 1, 2, 1, 2, 3, 3, 2, 2, 4], [4, 8, 8, 8, 8, 4, 4, 8, 8, 4])
    assert cut[5] == cut[6] == uncut[5]
    assert cut[:5] == uncut[:5] and cut[7] == cut[8] == uncut[6] and cut[9] == uncut[7]


def test_a_middle_section_over_known_harmony_is_a_solo_otherwise_a_bridge():
    groups, bars = [0, 1, 2, 1, 2, 3, 2, 2, 4], [4, 8, 8, 8, 8, 8, 8, 8, 4]
    assert _decode(groups, bars)[5] == "bridge"
    assert _decode(groups, bars, np.arange(9) == 5)[5] == "solo"
