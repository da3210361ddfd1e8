"""Which half of the beat is the beat: the low-band (kick drum, bass) onsets decide, and one
phase holds for the whole recording.

A tracker that follows the strongest onsets can settle half a beat off when the loudest
onsets fall between the beats: hi-hats or ride accents on the "and", or the snare on the
offbeat of a fast metal "skank" beat. The kick drum and the bass mark the beat itself in those
styles too, so the low-band onset strength at the decoded beats is compared with the strength
half-way between them: when the half-beats hold clearly more of it (their mean over the
recording exceeds the beats' by the factor :data:`OFFBEAT_RATIO`), the beats are on the offbeat.

A tracker can also change phase part way: a syncopated intro (a riff with a rest on the beat and
its accents on the "and"), or a section whose hi-hats are loudest on the offbeat, is followed half
a beat off, and the decoder slides back to the beat when the drums come in. A produced song keeps
its beat phase from start to end, so :func:`phase_slips` finds where the decoded grid jumps by
half a beat and :func:`minority_phase` names the beats that disagree with the phase held the
longest; those are ruled out (:func:`offbeat_mask`) and the bars decoded again.
"""

from __future__ import annotations

import numpy as np

from .activations import strongest_onset_near

__all__ = ["OFFBEAT_RATIO", "SLIP_WINDOW", "SLIP_GAP", "half_beat_ratio", "minority_phase", "offbeat_mask",
           "phase_slips"]

#: half-beat over beat mean low-band onset strength above which the beats are on the offbeat
OFFBEAT_RATIO = 1.15
_REACH_S = 0.03
#: beats on either side of a possible phase slip whose grid must be steady
SLIP_WINDOW = 12
#: beats left for the slip itself between the two windows (a decoder slides over several beats)
SLIP_GAP = 8
#: phase difference (beats, folded to [-0.5, 0.5]) between the two grids that counts as a slip
_SLIP_PHASE = 0.35
#: residual spread (fraction of a beat) above which a window's grid is not steady: a decoder
#: on a produced song's steady tempo stays within 1-2 % of a beat (10 ms frames included)
_STEADY = 0.025


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


def offbeat_mask(beats: np.ndarray, fps: float, num_frames: int, floor: float = 0.05,
                 interval: float | None = None) -> np.ndarray:
    """(T,) weights that rule out a beat phase: ``floor`` within a quarter beat of each of
    ``beats`` (s), 1 elsewhere; multiplied into a beat activation, the decoder can only place
    beats in the other half of the beat. ``interval``: the beat period (s); by default the
    median interval of ``beats`` (then at least 2 are needed, else nothing is ruled out)."""
    mask = np.ones(num_frames)
    beats = np.asarray(beats, dtype=float)
    if interval is None:
        if len(beats) < 2:
            return mask
        interval = float(np.median(np.diff(beats)))
    reach = 0.25 * interval
    for start, stop in zip(np.round((beats - reach) * fps).astype(np.int64),
                           np.round((beats + reach) * fps).astype(np.int64)):
        mask[max(start, 0):max(stop + 1, 0)] = floor
    return mask


def phase_slips(beats: np.ndarray) -> np.ndarray:
    """Where a beat sequence jumps by half a beat: the index of the first beat after each slip.

    For every split of the sequence, the :data:`SLIP_WINDOW` beats before a gap of
    :data:`SLIP_GAP` beats and the :data:`SLIP_WINDOW` beats after it are fitted with one beat
    period (least squares) and a phase each; both windows must be steady (residual spread within
    2.5 % of a beat). When the two phases differ by about half a beat (0.35 or more, modulo whole
    beats) the grid has slipped; of a run of such splits the one with the largest difference
    counts, placed in the middle of its gap. A tempo that drifts a whole beat away and back, or a beat
    dropped or added, is no slip.

    Args:
        beats: (N,) beat times in seconds, ascending.

    Returns:
        (S,) int indices into ``beats``, ascending; empty for fewer than 2 windows' worth.
    """
    b = np.asarray(beats, dtype=float)
    splits = np.arange(SLIP_WINDOW, len(b) - SLIP_GAP - SLIP_WINDOW + 1)
    if not len(splits):
        return np.zeros(0, dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(b, SLIP_WINDOW)
    before, after = windows[splits - SLIP_WINDOW], windows[splits + SLIP_GAP]  # (S, W) each
    k = np.arange(SLIP_WINDOW) - 0.5 * (SLIP_WINDOW - 1)  # beat index within a window, centred
    period = (before @ k + after @ k) / (2.0 * k @ k)  # (S,) one least-squares period for both
    phase_before, phase_after = before - period[:, None] * k, after - period[:, None] * k
    steady = np.maximum(phase_before.std(axis=1), phase_after.std(axis=1)) <= _STEADY * period
    # phase of the after window relative to the before window's grid, in beats, modulo whole beats
    diff = (phase_after.mean(axis=1) - phase_before.mean(axis=1)) / period - (SLIP_WINDOW + SLIP_GAP)
    diff = np.abs(diff - np.round(diff))
    found: list[tuple[int, float]] = []
    for split, size in zip(splits[steady & (diff >= _SLIP_PHASE)], diff[steady & (diff >= _SLIP_PHASE)]):
        if found and split - found[-1][0] <= SLIP_GAP + SLIP_WINDOW:
            if size > found[-1][1]:
                found[-1] = (int(split), float(size))
        else:
            found.append((int(split), float(size)))
    return np.array([split + SLIP_GAP // 2 for split, _ in found], dtype=np.int64)


def minority_phase(beats: np.ndarray) -> np.ndarray:
    """(N,) bool: the beats on the other half of the beat from the phase held the longest.

    The slips of :func:`phase_slips` cut the sequence into stretches that alternate between two
    phases; the phase whose stretches last longer in total (seconds) is the recording's, the
    other's beats are marked. All False when there is no slip.

    Args:
        beats: (N,) beat times in seconds, ascending.
    """
    b = np.asarray(beats, dtype=float)
    slips = phase_slips(b)
    side = np.zeros(len(b), dtype=np.int64)
    if not len(slips):
        return side.astype(bool)
    for index in slips:
        side[index:] ^= 1
    seconds = np.r_[np.diff(b), 0.0]
    held = int(seconds[side == 1].sum() > seconds[side == 0].sum())
    return side != held
