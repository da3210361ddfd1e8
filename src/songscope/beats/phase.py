"""Which half of the beat is the beat: the low-band (kick drum, bass) onsets decide.

A tracker that follows the strongest onsets can settle half a beat off when the loudest
onsets fall between the beats: hi-hats or ride accents on the "and", or the snare on the
offbeat of a fast metal "skank" beat. The kick drum and the bass mark the beat itself in those
styles too, so the low-band onset strength at the decoded beats is compared with the strength
half-way between them: when the half-beats hold clearly more of it (their mean over the
recording exceeds the beats' by the factor :data:`OFFBEAT_RATIO`), the beats are on the offbeat.
"""

from __future__ import annotations

import numpy as np

from .activations import strongest_onset_near

__all__ = ["OFFBEAT_RATIO", "half_beat_ratio", "offbeat_mask"]

#: half-beat over beat mean low-band onset strength above which the beats are on the offbeat
OFFBEAT_RATIO = 1.15
_REACH_S = 0.03


def half_beat_ratio(low_flux: np.ndarray, beats: np.ndarray, fps: float) -> float:
    """Mean low-band onset strength half-way between consecutive beats over that at the beats
    (the strongest within 30 ms of each point); 1.0 with fewer than 2 beats or no onsets.

    Args:
        low_flux: (T,) low-band onset strength at ``fps``.
        beats: (N,) beat times in seconds, ascending.
        fps: frames per second.
    """
    beats = np.asarray(beats, dtype=float)
    if len(beats) < 2:
        return 1.0
    on, off = strongest_onset_near(low_flux, np.stack([beats[:-1], 0.5 * (beats[:-1] + beats[1:])]), fps, _REACH_S)
    on, off = on.mean(), off.mean()
    return float(off / on) if on > 0 else 1.0


def offbeat_mask(beats: np.ndarray, fps: float, num_frames: int, floor: float = 0.05) -> np.ndarray:
    """(T,) weights that rule out a beat phase: ``floor`` within a quarter beat of each of
    ``beats`` (s), 1 elsewhere; multiplied into a beat activation, the decoder can only place
    beats in the other half of the beat."""
    mask = np.ones(num_frames)
    beats = np.asarray(beats, dtype=float)
    if len(beats) < 2:
        return mask
    reach = 0.25 * float(np.median(np.diff(beats)))
    for start, stop in zip(np.round((beats - reach) * fps).astype(np.int64),
                           np.round((beats + reach) * fps).astype(np.int64)):
        mask[max(start, 0):max(stop + 1, 0)] = floor
    return mask
