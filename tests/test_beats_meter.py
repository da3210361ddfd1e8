"""The meter of the classic beat tracker decided from the audio: beats per bar (2, 3, 4) and
simple against compound beats (6/8), on synthetic works with exact ground truth and on onset
patterns built to the purpose."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from songscope.audio.features import compute_features
from songscope.beats import CLASSIC_DBN, beat_subdivision, track_beats
from songscope.evaluate.metrics import beat_metrics
from songscope.result import AnalysisResult, BeatResult, StructureResult, time_signature
from songscope.synth import render_song
from songscope.synth.works import Version, arrange, compose_work

from .conftest import SR

SHORT_FORM = (("verse", 8), ("chorus", 8))


def _render(meter: str, seed: int = 1):
    """A short synthetic work in ``meter`` (rock drums: hats on every subdivision), its song and mix."""
    work = replace(compose_work(seed, meter=meter), form=SHORT_FORM)
    song = arrange(work, Version("v", seed=seed))
    return song, render_song(song, SR, seed=seed)["mixture"]


def _pattern(fractions: tuple[float, ...], bpm: float = 100.0, seconds: float = 20.0, fps: float = 100.0):
    """Onset strength (T,) with a strong onset on every beat and weaker ones at ``fractions`` of
    each beat, and the beat times (s)."""
    beats = np.arange(0.5, seconds - 0.5, 60.0 / bpm)
    onset = np.full(int(seconds * fps), 0.05)
    for b in beats:
        onset[int(round(b * fps))] = 1.0
        for f in fractions:
            onset[int(round((b + f * 60.0 / bpm) * fps))] = 0.5
    return onset, beats


@pytest.mark.parametrize("fractions,expected", [((0.5,), 2), ((0.25, 0.5, 0.75), 2), ((2 / 3,), 2),
                                                ((1 / 3, 2 / 3), 3), ((), 2)])
def test_subdivision_from_the_onsets_between_beats(fractions, expected):
    # eighths, sixteenths and swing (a late offbeat alone) are simple; triplet eighths compound
    onset, beats = _pattern(fractions)
    assert beat_subdivision(onset, beats, 100.0) == expected


@pytest.mark.parametrize("meter", ["4/4", "3/4", "6/8"])
def test_meter_of_synthetic_works_is_heard(meter):
    song, mix = _render(meter)
    result = track_beats(compute_features(mix, SR))
    times, _ = song.beats()
    assert beat_metrics(times, result.beats)["F"] >= 0.95  # the beats of the meter: dotted quarters in 6/8
    assert result.time_signature == meter


def test_two_four_when_four_is_not_offered():
    # 2/4 against 4/4 is not decided from the audio (the default reads duple simple bars as 4/4);
    # between 2 and 3 beats per bar it is
    song, mix = _render("2/4")
    result = track_beats(compute_features(mix, SR), replace(CLASSIC_DBN, beats_per_bar=(2, 3)))
    assert result.time_signature == "2/4" and result.subdivision == 2
    times, positions = song.beats()
    assert beat_metrics(times[positions == 1], result.downbeats)["F"] >= 0.9


def test_time_signature_in_the_result_and_its_json():
    assert [time_signature(4), time_signature(3), time_signature(2), time_signature(2, 3),
            time_signature(3, 3), time_signature(4, 3)] == ["4/4", "3/4", "2/4", "6/8", "9/8", "12/8"]
    beats = BeatResult(np.array([0.5, 1.0, 1.5, 2.0]), np.array([1, 2, 1, 2]), 2, 120.0, np.zeros((300, 2)),
                       subdivision=3)
    assert beats.time_signature == "6/8"
    assert replace(beats, beats_per_bar=0).time_signature is None
    result = AnalysisResult.compose("x.wav", 3.0, StructureResult(beats, [], {}), None, "classic")
    assert result.to_dict()["time_signature"] == "6/8"
    assert AnalysisResult.from_dict(result.to_dict()).time_signature == "6/8"


def test_too_few_beats_decide_nothing():
    onset, beats = _pattern((1 / 3, 2 / 3))
    assert beat_subdivision(onset, beats[:9], 100.0) == 3  # 8 intervals decide
    assert beat_subdivision(onset, beats[:8], 100.0) == 2
