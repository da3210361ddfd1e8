"""The beat phase of the classic tracker: drum patterns whose loudest onsets fall between the
beats are still tracked on the beat (the kick decides), not half a beat off."""

from __future__ import annotations

import numpy as np
import pytest

from songscope.audio.features import compute_features
from songscope.beats import track_beats
from songscope.beats.phase import OFFBEAT_RATIO, half_beat_ratio, minority_phase, offbeat_mask, phase_slips
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


def _grid(period: float, count: int, jitter: float = 0.004, seed: int = 0) -> np.ndarray:
    """Beat times on a steady grid, each frame-rounded and jittered by up to ``jitter`` s."""
    rng = np.random.default_rng(seed)
    return np.round((0.3 + period * np.arange(count) + rng.uniform(-jitter, jitter, count)) * 100) / 100


def test_phase_slips_find_a_half_beat_jump_and_the_minority_side():
    beats = _grid(0.5, 120)
    slid = beats.copy()
    slid[:40] -= 0.25 * np.clip((46 - np.arange(40)) / 6.0, 0.0, 1.0)  # an intro half a beat early, sliding back
    slid[40:46] -= 0.25 * (46 - np.arange(40, 46)) / 6.0
    slips = phase_slips(slid)
    assert len(slips) == 1 and 36 <= slips[0] <= 48
    minority = minority_phase(slid)
    assert minority[:36].all() and not minority[48:].any()
    assert len(phase_slips(beats)) == 0 and not minority_phase(beats).any()


def test_drift_dropped_beats_and_tempo_changes_are_no_slips():
    beats = _grid(0.33, 150)
    drift = beats.copy()
    drift[40:] -= 0.33 * np.clip((np.arange(40, 150) - 40) / 25.0, 0.0, 1.0)  # a beat gained over 25 beats
    assert len(phase_slips(drift)) == 0
    assert len(phase_slips(np.delete(beats, 70))) == 0  # one beat missing
    ramp = np.cumsum(np.linspace(0.5, 0.4, 150))  # a steady accelerando from 120 to 150 BPM
    assert len(phase_slips(ramp)) == 0


#: a riff on the eighths, a rest on beat 3, accents on the "and" of 2 and 4: (beat of the bar, velocity)
SYNCOPATED_RIFF = ((0.0, 0.6), (0.5, 0.8), (1.0, 0.6), (1.5, 1.0), (2.5, 0.8), (3.0, 0.6), (3.5, 1.0))


def _intro_then_rock(riff_on_beats: float) -> tuple[Song, int]:
    """8 bars of hi-hat and bass playing :data:`SYNCOPATED_RIFF` (its on-beat notes at
    ``riff_on_beats`` times their velocity), then 16 bars of a rock beat (kick on 1 and 3,
    snare on 2 and 4) with the bass on every beat, 100 BPM; returns the song and the first body beat."""
    song = Song(tempo=100.0, beats_per_bar=4, tonic=0, minor=False, form=(("intro", 8), ("verse", 16)),
                lead_in=0.3, tail=0.5)
    times, _ = song.beats()
    period, body = song.beat_period, 32
    riff = [(b, v * (riff_on_beats if b % 1 == 0 else 1.0)) for b, v in SYNCOPATED_RIFF]
    song.drums = ([Hit(float(t + b * period), "hat", v) for t in times[:body:4] for b, v in riff]
                  + [Hit(float(t), kind, vel) for i, t in enumerate(times[body:])
                     for kind, vel, on in (("kick", 1.0, (0, 2)), ("snare", 0.8, (1, 3)), ("hat", 0.4, (0, 1, 2, 3)))
                     if i % 4 in on])
    song.parts = {"bass": [Note(float(t + b * period), 0.4 * period, 36, 0.6 * v)
                           for t in times[:body:4] for b, v in riff]
                  + [Note(float(t), 0.4 * period, 36, 0.6) for t in times[body:]]}
    return song, body


def test_a_syncopated_intro_is_tracked_on_the_phase_of_the_song():
    # the loudest onsets of the intro are on the "and": a tracker that follows them puts the
    # intro's beats half a beat off (main's did, F 0 there); the song keeps one phase throughout
    song, body = _intro_then_rock(1.0)
    result = track_beats(compute_features(render_song(song, SR)["mixture"], SR))
    times, _ = song.beats()
    cut = times[body] - 0.5 * song.beat_period
    assert beat_metrics(times[body:], result.beats[result.beats >= cut])["F"] >= 0.95
    assert beat_metrics(times[:body], result.beats[result.beats < cut])["F"] >= 0.95


def test_an_intro_with_nothing_on_the_beat_keeps_its_beats():
    # with nothing on the beat in the intro (its on-beat notes silent), ruling its phase out
    # would leave it without beats: that round is not kept, the intro keeps its (offbeat) beats
    song, body = _intro_then_rock(0.0)
    result = track_beats(compute_features(render_song(song, SR)["mixture"], SR))
    times, _ = song.beats()
    intro = result.beats[result.beats < times[body] - 0.5 * song.beat_period]
    assert len(intro) >= 0.8 * body
