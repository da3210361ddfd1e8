"""The beat phase of the classic tracker: drum patterns whose loudest onsets fall between the
beats are still tracked on the beat (the kick decides), not half a beat off."""

from __future__ import annotations

import numpy as np
import pytest

from songscope.audio.features import compute_features
from songscope.beats import track_beats
from songscope.beats.phase import OFFBEAT_RATIO, half_beat_ratio, offbeat_mask
from songscope.evaluate.metrics import beat_metrics
from songscope.synth import render_song
from songscope.synth.song import Hit, Note, Song

from .conftest import SR

#: (kind, fraction of the beat, beats of the bar it plays on (None: every beat), velocity)
SKANK = (("kick", 0.0, None, 1.0), ("snare", 0.5, None, 1.0), ("hat", 0.5, None, 1.0))
ROCK_LOUD_HATS = (("kick", 0.0, (0, 2), 0.6), ("snare", 0.0, (1, 3), 0.4), ("hat", 0.5, None, 1.0))
DISCO = (("kick", 0.0, None, 1.0), ("snare", 0.0, (1, 3), 0.6), ("hat", 0.5, None, 1.0))
#: disco's octave bass: (fraction of the beat, MIDI pitch, velocity), the upper octave on the offbeat
OCTAVE_BASS = ((0.0, 33, 0.3), (0.5, 45, 0.5))


def _groove(pattern, bpm: float, bass=(), bars: int = 10) -> Song:
    """A 4/4 song of drums playing ``pattern`` in every bar, and a bass playing ``bass`` on every beat."""
    song = Song(tempo=bpm, beats_per_bar=4, tonic=0, minor=False, form=(("verse", bars),), lead_in=0.3, tail=0.5)
    times, _ = song.beats()
    period = song.beat_period
    song.drums = [Hit(float(t + frac * period), kind, vel)
                  for i, t in enumerate(times) for kind, frac, on, vel in pattern if on is None or i % 4 in on]
    song.parts = {"bass": [Note(float(t + frac * period), 0.4 * period, pitch, vel)
                           for t in times for frac, pitch, vel in bass]}
    return song


@pytest.mark.parametrize("pattern,bass,bpm", [(SKANK, (), 130.0), (ROCK_LOUD_HATS, (), 150.0), (DISCO, OCTAVE_BASS, 125.0)],
                         ids=["skank-130", "rock-150", "disco-125"])
def test_loud_offbeats_do_not_pull_the_beats_off(pattern, bass, bpm):
    # skank: kick on the beat, snare and hi-hat on every offbeat (fast metal/punk), the loudest
    # onsets between the beats; rock: kick on 1 and 3, snare on 2 and 4, loud hi-hats between;
    # disco: four on the floor, open hi-hats and the bass's upper octave on every offbeat
    song = _groove(pattern, bpm, bass)
    result = track_beats(compute_features(render_song(song, SR)["mixture"], SR))
    times, _ = song.beats()
    assert beat_metrics(times, result.beats)["F"] >= 0.95
    assert result.bpm == pytest.approx(bpm, rel=0.02)


def test_half_beat_ratio_tells_the_phase_from_the_low_onsets():
    fps, beats = 100.0, np.arange(0.5, 19.5, 0.5)
    low = np.full(2000, 0.01)
    low[np.round(beats * fps).astype(int)] = 1.0  # kicks on the beats
    assert half_beat_ratio(low, beats, fps) < 1.0 / OFFBEAT_RATIO
    assert half_beat_ratio(low, beats + 0.25, fps) > OFFBEAT_RATIO  # the same beats half a beat off
    assert half_beat_ratio(low, beats[:1], fps) == 1.0


def test_offbeat_mask_rules_out_a_quarter_beat_around_each_beat():
    mask = offbeat_mask(np.array([1.0, 1.5, 2.0]), 100.0, 300, floor=0.1)
    assert mask[100] == mask[112] == mask[88] == 0.1
    assert mask[125] == 1.0 and mask[0] == 1.0 and mask[299] == 1.0
