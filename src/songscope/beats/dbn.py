"""Bar-pointer dynamic Bayesian network for beat and downbeat decoding.

This implements the model of Krebs, Böck & Widmer, "An efficient state-space model for
joint tempo and meter tracking" (ISMIR 2015), with the discretisation, transition and
observation models that madmom's ``DBNBeatTrackingProcessor`` and
``DBNDownBeatTrackingProcessor`` use, so that the same activations decode to the same
beats (checked against madmom's recorded outputs in the tests).

The state space of a meter with ``B`` beats per bar holds, for every beat ``b`` and every
beat interval ``k`` (frames), the positions ``0 .. k-1`` inside that beat. Inside a beat
the pointer advances deterministically; only at a beat boundary may the interval change,
with probability ``exp(-lambda * |k'/k - 1|)`` (normalised). This makes the model
semi-Markov: the best score at the *first* position of every (beat, interval) chain is
all that needs to be stored, and the score at the last position follows from it plus a
sum of observation log-densities along the chain, taken from cumulative sums. Because
every chain lasts at least ``k_min`` frames, ``k_min`` consecutive frames can be decoded
at once. Memory is ``O(T * B * K)`` bytes for the back-pointers (uint8) and
``O(k_max * B * K)`` floats for the scores, so an hour of audio decodes in bounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import ConfigError, InputError

__all__ = ["DBNConfig", "DecodedPath", "TempoPrior", "beat_intervals", "decode_beats", "decode_downbeats"]


@dataclass(frozen=True)
class DBNConfig:
    """Settings of the bar-pointer model (defaults: madmom's downbeat tracker).

    Attributes:
        beats_per_bar: meters to try; the one with the highest path probability wins.
        min_bpm, max_bpm: tempo range in beats per minute.
        num_tempi: number of (log-spaced) beat intervals; ``None`` uses every integer interval.
        transition_lambda: tempo-change penalty; larger keeps the tempo steadier.
        observation_lambda: the first ``1/observation_lambda`` of a beat is the beat region.
        threshold: activations below it at the start and end are cropped before decoding.
        correct: move each beat to the activation peak inside its beat region.
        fps: frame rate of the activations (frames per second).
        tempo_prior: ``(centre_bpm, width_octaves)`` adds a log-normal tempo preference
            (0 at the centre, ``-0.5 * (log2(bpm / centre) / width) ** 2`` elsewhere) to every
            beat transition; ``None`` (madmom's model) has no preference.
    """

    beats_per_bar: tuple[int, ...] = (3, 4)
    min_bpm: float = 55.0
    max_bpm: float = 205.0
    num_tempi: int | None = 60
    transition_lambda: float = 100.0
    observation_lambda: float = 16.0
    threshold: float = 0.05
    correct: bool = True
    fps: float = 100.0
    tempo_prior: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not self.beats_per_bar or any(int(b) < 1 for b in self.beats_per_bar):
            raise ConfigError(f"beats_per_bar must be positive integers, got {self.beats_per_bar}")
        if not 0 < self.min_bpm < self.max_bpm:
            raise ConfigError(
                f"tempo range must satisfy 0 < min_bpm < max_bpm, got {self.min_bpm}..{self.max_bpm}"
            )
        if self.observation_lambda <= 1:
            raise ConfigError("observation_lambda must be greater than 1")


def beat_intervals(min_interval: float, max_interval: float, num_intervals: int | None) -> np.ndarray:
    """Beat intervals (frames) of the state space, as madmom's ``BeatStateSpace`` spaces them.

    Every integer interval between the rounded bounds; if that is more than
    ``num_intervals``, log-spaced intervals instead (the fewest log-spaced points whose
    rounded unique values number at least ``num_intervals``).

    Returns:
        int64 array (K,) ascending.
    """
    intervals = np.arange(np.round(min_interval), np.round(max_interval) + 1)
    if num_intervals is not None and num_intervals < len(intervals):
        count = num_intervals
        intervals = np.empty(0)
        while len(intervals) < num_intervals:
            intervals = np.unique(
                np.round(np.logspace(np.log2(min_interval), np.log2(max_interval), count, base=2))
            )
            count += 1
    return intervals.astype(np.int64)


def _transition_log_probs(intervals: np.ndarray, transition_lambda: float) -> np.ndarray:
    """Log P(next interval = column | previous interval = row), (K, K); -inf where madmom has 0."""
    ratio = intervals[np.newaxis, :].astype(float) / intervals[:, np.newaxis].astype(float)
    prob = np.exp(-transition_lambda * np.abs(ratio - 1.0))
    prob[prob <= np.spacing(1)] = 0
    prob /= prob.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        return np.log(prob)


@dataclass
class _BarSpace:
    """Chains of one meter: beats ``B`` x intervals ``K``, and their beat regions."""

    num_beats: int
    intervals: np.ndarray  # (K,)
    region: np.ndarray  # (B, K) number of leading positions inside the beat region
    region_class: np.ndarray  # (B,) observation column of the beat region (1 beat, 2 downbeat)
    log_trans: np.ndarray  # (K, K)
    num_states: int = field(init=False)

    def __post_init__(self) -> None:
        self.num_states = int(self.num_beats * self.intervals.sum())


#: a per-recording tempo preference: BPM (K,) -> log weight (K,), added at every beat transition
TempoPrior = Callable[[np.ndarray], np.ndarray]


def _tempo_log_prior(intervals: np.ndarray, config: DBNConfig, extra: TempoPrior | None = None) -> np.ndarray:
    """Log preference (K,) for each beat interval: the config's log-normal prior plus
    ``extra``; zeros without either."""
    bpm = 60.0 * config.fps / intervals
    prior = np.zeros(len(intervals)) if extra is None else np.asarray(extra(bpm), dtype=float)
    if config.tempo_prior is None:
        return prior
    centre, width = config.tempo_prior
    return prior - 0.5 * (np.log2(bpm / centre) / width) ** 2


def _bar_space(num_beats: int, intervals: np.ndarray, config: DBNConfig, downbeats: bool,
               tempo_prior: TempoPrior | None = None) -> _BarSpace:
    border = 1.0 / config.observation_lambda
    region = np.empty((num_beats, len(intervals)), dtype=np.int64)
    for j, k in enumerate(intervals):
        base = np.linspace(0, 1, int(k), endpoint=False)
        for b in range(num_beats):
            # the same float expressions as madmom's observation-model pointers
            in_region = ((base + b) % 1 < border) if downbeats else (base < border)
            count = int(in_region.sum())
            if not in_region[:count].all():
                raise AssertionError("beat region is not a prefix of the beat")
            region[b, j] = count
    region_class = np.ones(num_beats, dtype=np.int64)
    if downbeats:
        region_class[0] = 2
    return _BarSpace(
        num_beats, intervals, region, region_class,
        _transition_log_probs(intervals, config.transition_lambda)
        + _tempo_log_prior(intervals, config, tempo_prior)[None, :],
    )


@dataclass
class DecodedPath:
    """The Viterbi path of one meter.

    Attributes:
        beat: (T,) beat index inside the bar (0 = downbeat) at every frame.
        position: (T,) frames since the start of the current beat.
        interval: (T,) current beat interval in frames.
        in_region: (T,) bool, True inside a beat region.
        log_prob: log probability of the path.
        num_beats: beats per bar of the decoded meter.
    """

    beat: np.ndarray
    position: np.ndarray
    interval: np.ndarray
    in_region: np.ndarray
    log_prob: float
    num_beats: int


def _banded(log_trans: np.ndarray) -> tuple[int, np.ndarray]:
    """Transitions into interval j as a band of width W over source intervals.

    Returns ``(lo, band)`` with band (K, W): band[j, w] = log_trans[j - lo + w, j]
    (-inf outside the matrix). Sources outside every band have probability 0, so
    maximising over the band equals maximising over all sources, in the same order.
    """
    num_k = log_trans.shape[0]
    finite = np.isfinite(log_trans)
    src = np.arange(num_k)[:, None]
    dst = np.arange(num_k)[None, :]
    offset = np.where(finite, src - dst, 0)
    lo, hi = -int(offset.min()), int(offset.max())
    band = np.full((num_k, lo + hi + 1), -np.inf)
    for w in range(lo + hi + 1):
        source = np.arange(num_k) - lo + w
        ok = (source >= 0) & (source < num_k)
        band[ok, w] = log_trans[source[ok], np.arange(num_k)[ok]]
    return lo, band


def _segment_sums(cum: np.ndarray, start, stop, lead, region_class):
    """Sum of observation log-densities over frames ``start .. stop-1`` of a chain.

    The first ``lead`` of those frames lie in the beat region (column ``region_class``),
    the rest in column 0. ``cum`` is (T+1, C) cumulative sums; arguments broadcast.
    """
    split = start + lead
    return cum[split, region_class] - cum[start, region_class] + cum[stop, 0] - cum[split, 0]


def _viterbi(log_obs: np.ndarray, space: _BarSpace) -> DecodedPath:
    """Decode one meter. ``log_obs`` is (T, C) observation log-densities, column 0 non-beat."""
    num_frames = len(log_obs)
    ks = space.intervals
    num_b, num_k = space.region.shape
    k_min, k_max = int(ks.min()), int(ks.max())
    cum = np.zeros((num_frames + 1, log_obs.shape[1]))
    np.cumsum(log_obs, axis=0, out=cum[1:])
    log_init = -np.log(space.num_states)
    ring = k_max + k_min + 1
    first = np.full((ring, num_b, num_k), -np.inf)  # score at position 0, ring buffer over time
    back = np.zeros((num_frames, num_b, num_k), dtype=np.uint8 if num_k < 256 else np.uint16)
    prev_beat = (np.arange(num_b) - 1) % num_b
    cls = space.region_class[:, None]  # (B, 1)
    band_lo, band_trans = _banded(space.log_trans)
    width = band_trans.shape[1]
    padded = np.full((k_min, num_b, num_k + width - 1), -np.inf)
    for t0 in range(0, num_frames, k_min):
        ts = np.arange(t0, min(t0 + k_min, num_frames))
        # score of the last position of every chain at frame t-1, for each t in ts
        entry = ts[:, None, None] - ks[None, None, :]  # frame at which that chain started
        started = entry >= 0
        safe_entry = np.where(started, entry, 0)
        # frames entry+1 .. t-1 (positions 1 .. k-1) after a start inside the signal;
        # frames 0 .. t-1 (positions k-t .. k-1) for a chain already running at frame 0
        seg_start = np.where(started, safe_entry + 1, 0)
        first_pos = np.where(started, 1, ks[None, None, :] - ts[:, None, None])
        lead = np.clip(space.region[None] - first_pos, 0, ts[:, None, None] - seg_start)
        seg = _segment_sums(cum, seg_start, ts[:, None, None], lead, cls[None])
        base = np.where(started, first[safe_entry % ring, np.arange(num_b)[None, :, None],
                                       np.arange(num_k)[None, None, :]], log_init)
        last = base + seg  # (n, B, K)
        padded[: len(ts), :, band_lo:band_lo + num_k] = last[:, prev_beat]
        windows = sliding_window_view(padded[: len(ts)], width, axis=2)  # (n, B, K, W)
        cand = windows + band_trans  # to interval j from interval j - band_lo + w
        best = cand.argmax(axis=3)
        score = np.take_along_axis(cand, best[..., None], axis=3)[..., 0]
        best += np.arange(num_k) - band_lo
        first[ts % ring] = score + log_obs[ts[:, None], space.region_class[None, :]][:, :, None]
        back[ts] = best
    # every state at the final frame: chain (b, j) at position p entered at T-1-p
    t_end = num_frames - 1
    finals = []
    for b in range(num_b):
        for j, k in enumerate(ks):
            p = np.arange(k)
            entry = t_end - p
            started = entry >= 0
            seg_start = np.where(started, entry + 1, 0)
            first_pos = np.where(started, 1, p - t_end)
            lead = np.clip(space.region[b, j] - first_pos, 0, num_frames - seg_start)
            seg = _segment_sums(cum, seg_start, num_frames, lead, space.region_class[b])
            base = np.where(started, first[np.where(started, entry, 0) % ring, b, j], log_init)
            finals.append(base + seg)
    flat = np.concatenate(finals)
    best_state = int(np.argmax(flat))
    log_prob = float(flat[best_state])
    offsets = np.cumsum([0] + [int(k) for _ in range(num_b) for k in ks])
    chain = int(np.searchsorted(offsets, best_state, side="right") - 1)
    b, j = divmod(chain, num_k)
    p_end = best_state - offsets[chain]
    beat = np.empty(num_frames, dtype=np.int64)
    interval = np.empty(num_frames, dtype=np.int64)
    position = np.empty(num_frames, dtype=np.int64)
    stop = num_frames  # frames [entry, stop) belong to the current chain
    entry = t_end - p_end
    while True:
        lo = max(entry, 0)
        beat[lo:stop] = b
        interval[lo:stop] = ks[j]
        position[lo:stop] = np.arange(lo - entry, stop - entry)
        if entry <= 0:
            break
        j_prev = int(back[entry, b, j])
        b, j, stop = int(prev_beat[b]), j_prev, entry
        entry = stop - int(ks[j])
    in_region = position < space.region[beat, np.searchsorted(ks, interval)]
    return DecodedPath(beat, position, interval, in_region, log_prob, num_b)


def _crop(activations: np.ndarray, threshold: float) -> tuple[np.ndarray, int]:
    """Crop leading/trailing frames whose activations are all below ``threshold``."""
    if not threshold:
        return activations, 0
    idx = np.nonzero(activations >= threshold)[0]
    if idx.size == 0:
        return activations[:0], 0
    return activations[idx.min(): idx.max() + 1], int(idx.min())


def _peak_frames(path: DecodedPath, activations: np.ndarray, correct: bool) -> np.ndarray:
    """Beat frames from a path: activation peaks in beat regions, or region onsets."""
    if not correct:
        return np.nonzero(np.diff(path.position) < 0)[0] + 1
    region = path.in_region.astype(np.int64)
    idx = np.nonzero(np.diff(region))[0] + 1
    if region[0]:
        idx = np.r_[0, idx]
    if region[-1]:
        idx = np.r_[idx, region.size]
    peaks = []
    for left, right in idx.reshape(-1, 2):
        window = activations[left:right]
        # madmom takes the arg-max of the flattened (frames x columns) window
        peaks.append(int(np.argmax(window)) // (window.shape[1] if window.ndim == 2 else 1) + left)
    return np.asarray(peaks, dtype=np.int64)


def _validate(activations: np.ndarray, columns: int) -> np.ndarray:
    act = np.asarray(activations, dtype=float)
    if act.ndim != (1 if columns == 1 else 2) or (columns > 1 and act.shape[1] != columns):
        raise InputError(f"activations must have shape (T,) or (T, 2), got {act.shape}")
    if not np.all(np.isfinite(act)) or act.min(initial=0) < 0 or act.max(initial=0) > 1:
        raise InputError("activations must be finite probabilities in [0, 1]")
    return act


def decode_beats(activations: np.ndarray, config: DBNConfig | None = None,
                 tempo_prior: TempoPrior | None = None) -> np.ndarray:
    """Beat times from a beat activation function (madmom ``DBNBeatTrackingProcessor``).

    Args:
        activations: (T,) beat probability per frame at ``config.fps``.
        config: model settings; default is madmom's beat tracker (55-215 BPM, threshold 0).
        tempo_prior: a per-recording tempo preference, added to the config's.

    Returns:
        (N,) beat times in seconds.
    """
    config = config or DBNConfig(beats_per_bar=(1,), max_bpm=215.0, threshold=0.0)
    act = _validate(activations, 1)
    act, offset = _crop(act, config.threshold)
    if not act.any():
        return np.empty(0)
    intervals = beat_intervals(60.0 * config.fps / config.max_bpm,
                               60.0 * config.fps / config.min_bpm, config.num_tempi)
    space = _bar_space(1, intervals, config, downbeats=False, tempo_prior=tempo_prior)
    with np.errstate(divide="ignore"):
        log_obs = np.stack([np.log((1.0 - act) / (config.observation_lambda - 1)), np.log(act)], axis=1)
    path = _viterbi(log_obs, space)
    return (_peak_frames(path, act, config.correct) + offset) / float(config.fps)


def decode_downbeats(activations: np.ndarray, config: DBNConfig | None = None,
                     tempo_prior: TempoPrior | None = None,
                     no_beat: np.ndarray | None = None) -> tuple[np.ndarray, DecodedPath | None]:
    """Beats with their position in the bar (madmom ``DBNDownBeatTrackingProcessor``).

    Args:
        activations: (T, 2) per-frame observation densities of [beat (not downbeat), downbeat]
            (probabilities in madmom's model).
        config: model settings (meters, tempo range, ...).
        tempo_prior: a per-recording tempo preference, added to the config's.
        no_beat: (T,) density of the observation outside beat regions; default (madmom's)
            ``1 - activations.sum(axis=1)``.

    Returns:
        ``(beats, path)``: beats is (N, 2) of [time in seconds, position in bar starting
        at 1]; path is the winning meter's Viterbi path (None if nothing was decoded).
    """
    config = config or DBNConfig()
    act = _validate(activations, 2)
    outside = 1.0 - act.sum(axis=1) if no_beat is None else _validate(no_beat, 1)
    act, offset = _crop(act, config.threshold)
    if not act.any():
        return np.empty((0, 2)), None
    outside = outside[offset:offset + len(act)]
    intervals = beat_intervals(60.0 * config.fps / config.max_bpm,
                               60.0 * config.fps / config.min_bpm, config.num_tempi)
    with np.errstate(divide="ignore"):
        log_obs = np.stack([
            np.log(outside / (config.observation_lambda - 1)),
            np.log(act[:, 0]), np.log(act[:, 1]),
        ], axis=1)
    paths = [_viterbi(log_obs, _bar_space(int(num_beats), intervals, config, downbeats=True, tempo_prior=tempo_prior))
             for num_beats in config.beats_per_bar]
    best = max(paths, key=lambda path: path.log_prob)  # the first of equals, as a strict comparison in order
    frames = _peak_frames(best, act, config.correct)
    times = (frames + offset) / float(config.fps)
    return np.stack([times, best.beat[frames] + 1], axis=1), best
