"""How the beat divides: simple (two pulses per beat) or compound (three), from the onsets
between decoded beats.

In a simple meter (2/4, 3/4, 4/4) the strongest onsets between two beats fall half-way; in a
compound meter (6/8, 9/8, 12/8: dotted-quarter beats of three eighths) they fall at one and
two thirds. Per beat interval, the onset strength near each of those points (the maximum of the
summed band flux within 20 ms) is taken; the beat is compound when the median over beats of the
weaker of the two third-points exceeds the median at the half-point by
:data:`COMPOUND_MARGIN`, over at least :data:`MIN_INTERVALS` beat intervals (fewer decide
nothing: simple). The weaker third-point, not their mean, so that swing (a late offbeat
near two thirds, nothing at one third) stays simple.
"""

from __future__ import annotations

import numpy as np

from .activations import strongest_onset_near

__all__ = ["COMPOUND_MARGIN", "MIN_INTERVALS", "beat_subdivision", "sub_beat_strengths"]

#: third-points over half-point (medians) above which a beat counts as compound
COMPOUND_MARGIN = 1.5
#: fewest beat intervals whose medians decide (two bars of 4/4)
MIN_INTERVALS = 8
_REACH_S = 0.02


def sub_beat_strengths(onset: np.ndarray, beats: np.ndarray, fps: float) -> tuple[float, float]:
    """Median onset strength at the half-point and at the weaker third-point of the beat
    intervals.

    Args:
        onset: (T,) onset strength at ``fps`` (e.g. the band flux summed).
        beats: (N,) beat times in seconds, ascending.
        fps: frames per second.

    Returns:
        ``(half, third)``, in the units of ``onset``; ``(0, 0)`` with fewer than 2 beats.
    """
    beats = np.asarray(beats, dtype=float)
    if len(beats) < 2:
        return 0.0, 0.0
    points = beats[:-1] + np.array([0.5, 1.0 / 3.0, 2.0 / 3.0])[:, None] * np.diff(beats)
    half, one_third, two_thirds = strongest_onset_near(onset, points, fps, _REACH_S)
    return float(np.median(half)), float(np.median(np.minimum(one_third, two_thirds)))


def beat_subdivision(onset: np.ndarray, beats: np.ndarray, fps: float) -> int:
    """3 when the beats divide in three (compound meter), else 2 (see the module docstring).

    Args:
        onset: (T,) onset strength at ``fps``. beats: (N,) beat times (s). fps: frames per second.
    """
    if len(beats) <= MIN_INTERVALS:
        return 2
    half, third = sub_beat_strengths(onset, beats, fps)
    return 3 if third > COMPOUND_MARGIN * half and third > 0 else 2
