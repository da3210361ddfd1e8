"""Where the bar starts: a downbeat cue measured between beats, for the bar-pointer DBN.

Given beats from a first decoding pass, every beat ``i`` gets features of the span up to the
next beat (beat-synchronous), and four cues that tend to peak on the first beat of a bar:

- **harmonic change**: cosine distance between the mean chroma of the ``w`` beats before and the
  ``w`` beats from beat ``i`` (``w`` = 1 and 2, averaged): chords change on downbeats;
- **bass change**: the same on a chroma of the bass register (bands below 160 Hz): bass notes
  change on downbeats, and more strictly than the upper harmony;
- **bar novelty**: the same distance on timbre and harmony (MFCC and chroma) between the four
  beats before and the four from beat ``i``: riffs and phrases start on a downbeat;
- **low onset**: the strongest low-band (< 200 Hz) flux within 30 ms of the beat: kick drum and
  bass attacks.

Each cue is standardised over the recording (median and median absolute deviation, so a few
extreme beats do not set the scale), and their mean ``z`` becomes the probability that the beat
is a downbeat, ``sigmoid(z + logit(prior))``. Frames near each beat carry that probability's
likelihood ratio against the prior as the [beat, downbeat] observation densities; the DBN then
weighs them against the beat evidence and the meter.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ..audio.features import Features, pitch_class_fold

__all__ = ["beat_synchronous", "choose_meter", "downbeat_cue", "downbeat_densities", "downbeat_probability",
           "lag_similarity"]

_BASS_HZ = 160.0
_PRIOR = 0.3  # share of beats that are downbeats, between 3/4 and 4/4 (1/3 and 1/4)
_PROB_FLOOR = 1e-3


def beat_synchronous(x: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Mean of ``x`` (T, D) over each beat's span ``[frames[i], frames[i + 1])`` (the last
    beat spans the median beat interval), (N, D)."""
    frames = np.asarray(frames, dtype=np.int64)
    step = int(np.median(np.diff(frames))) if len(frames) > 1 else 1
    edges = np.clip(np.r_[frames, frames[-1] + max(step, 1)], 0, len(x))
    csum = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0, dtype=np.float64)])
    sums = csum[edges[1:]] - csum[edges[:-1]]
    return sums / np.maximum(edges[1:] - edges[:-1], 1)[:, None]


def _change(x: np.ndarray, width: int) -> np.ndarray:
    """(N,) cosine distance between the mean of rows ``i - width .. i - 1`` and ``i .. i + width - 1``
    of ``x`` (N, D); 0 where either side is outside the recording."""
    csum = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    n = len(x)
    out = np.zeros(n)
    i = np.arange(width, n - width + 1)
    before = csum[i] - csum[i - width]
    after = csum[i + width] - csum[i]
    den = np.linalg.norm(before, axis=1) * np.linalg.norm(after, axis=1) + 1e-9
    out[i] = 1.0 - (before * after).sum(axis=1) / den
    return out


def _robust_z(x: np.ndarray) -> np.ndarray:
    """``x`` standardised by its median and median absolute deviation (0 if it is constant)."""
    mad = 1.4826 * np.median(np.abs(x - np.median(x)))
    return (x - np.median(x)) / mad if mad > 1e-9 else np.zeros_like(x)


def _pitch_classes(features: Features, max_hz: float) -> np.ndarray:
    """(T, 12) float64 log band magnitudes at or below ``max_hz`` folded onto pitch classes (C = 0)."""
    return features.log_bands @ pitch_class_fold(features.band_midi, 0.0, max_hz).astype(np.float64)


def downbeat_cue(features: Features, low_flux: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Downbeat evidence of each beat, (N,) in standard units (mean of the standardised cues).

    Args:
        features: frame features. low_flux: (T,) low-band onset strength.
        frames: (N,) beat frames, ascending.
    """
    chroma = beat_synchronous(np.sqrt(features.chroma), frames)
    bass = beat_synchronous(_pitch_classes(features, _BASS_HZ), frames)
    timbre = beat_synchronous(features.mfcc[:, 1:], frames)
    timbre = (timbre - timbre.mean(axis=0)) / (timbre.std(axis=0) + 1e-9)
    unit_chroma = chroma / (np.linalg.norm(chroma, axis=1, keepdims=True) + 1e-9)
    # novelty of (zero-mean) timbre and harmony: cosine distance of centred vectors
    phrase = np.concatenate([timbre, 3.0 * (unit_chroma - unit_chroma.mean(axis=0))], axis=1)
    reach = max(1, int(round(0.03 * features.fps)))
    padded = np.pad(low_flux, reach, mode="edge")
    onset = np.log1p(np.array([padded[f:f + 2 * reach + 1].max() for f in np.clip(frames, 0, len(low_flux) - 1)]))
    cues = [0.5 * (_change(chroma, 1) + _change(chroma, 2)), 0.5 * (_change(bass, 1) + _change(bass, 2)),
            _change(phrase, 4), onset]
    return np.mean([_robust_z(c) for c in cues], axis=0)


def downbeat_probability(cue: np.ndarray, frames: np.ndarray, num_frames: int) -> np.ndarray:
    """(T,) probability that a beat at each frame is a downbeat: each beat's
    ``sigmoid(cue + logit(prior))`` on the frames within a quarter beat of it, the prior elsewhere;
    kept within [:data:`_PROB_FLOOR`, 1 - :data:`_PROB_FLOOR`] (a cue of many standard units, as
    near-constant audio gives, must not make a density exactly 0, whose log breaks the decoder).

    Args:
        cue: (N,) :func:`downbeat_cue`. frames: (N,) beat frames. num_frames: T.
    """
    prob = np.full(num_frames, _PRIOR)
    if len(frames) > 1:
        reach = max(1, int(0.25 * np.median(np.diff(frames))))
        probs = np.clip(expit(cue + np.log(_PRIOR / (1.0 - _PRIOR))), _PROB_FLOOR, 1.0 - _PROB_FLOOR)
        for f, p in zip(frames, probs):
            prob[max(f - reach, 0):f + reach + 1] = p
    return prob


def downbeat_densities(beat: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """[beat, downbeat] observation densities per frame, (T, 2), for the bar-pointer DBN: the
    beat activation (T,) times the likelihood ratios ``(1 - p) / (1 - prior)`` and ``p / prior``
    of the downbeat probability ``prob`` (T,) (:func:`downbeat_probability`), capped below 1. A
    probability at its prior leaves the beat evidence exactly as the beat-only model sees it."""
    ratios = np.stack([(1.0 - prob) / (1.0 - _PRIOR), prob / _PRIOR], axis=1)
    return np.minimum(beat[:, None] * ratios, 1.0 - 1e-6)


def lag_similarity(features: Features, flux: np.ndarray, frames: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """How alike beats ``L`` apart are, for each lag ``L`` in ``lags``: the mean cosine similarity
    (features centred over the recording) of beat-synchronous chroma, of MFCCs and of the onset
    pattern inside the beat (band flux at quarter-beat steps), averaged over the three; (len(lags),),
    NaN for lags too long for the recording.

    Args:
        features: frame features. flux: (T, bands) onset strength. frames: (N,) beat frames.
        lags: (L,) positive lags in beats.
    """
    quarter = np.round(np.interp(np.arange(0, len(frames) - 1, 0.25), np.arange(len(frames)), frames)).astype(np.int64)
    pattern = beat_synchronous(flux, quarter)
    pattern = pattern[: len(pattern) // 4 * 4].reshape(-1, 4 * flux.shape[1])
    out = np.zeros(len(lags))
    for x in (beat_synchronous(np.sqrt(features.chroma), frames), beat_synchronous(features.mfcc[:, 1:], frames), pattern):
        x = x - x.mean(axis=0)
        x = x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-9)
        out += [np.mean((x[:-lag] * x[lag:]).sum(axis=1)) if len(x) > lag else np.nan for lag in lags]
    return out / 3.0


def choose_meter(features: Features, flux: np.ndarray, frames: np.ndarray, candidates: tuple[int, ...],
                 subdivision: int = 2) -> tuple[int, ...]:
    """The meters worth decoding: triple or duple by the bar periodicity, or all ``candidates``.

    When the candidates hold 3 and a duple meter (2 or 4), bars of three beats repeat at lags 3
    and 6, bars of four at lags 4 and 8: the meter whose two lags are the more alike wins
    (:func:`lag_similarity`). The beat periodicity alone cannot tell 2 from 4 beats per bar (a
    2/4 bar read as 4/4 shows up as half a bar), so duple follows the beat's ``subdivision``
    (:func:`~songscope.beats.meter.beat_subdivision`): 4 for a simple beat (4/4, the common
    case), 2 for a compound one (6/8: two dotted-quarter beats, 12/8 being rarer), each when it
    is a candidate, else the other duple candidate. With other candidates, or too few beats,
    every candidate is returned for the DBN to decide.
    """
    duple = [m for m in candidates if m in (2, 4)]
    if 3 not in candidates or not duple or set(candidates) - {2, 3, 4}:
        return tuple(candidates)
    sim = lag_similarity(features, flux, frames, np.array([3, 4, 6, 8]))
    if not np.all(np.isfinite(sim)):
        return tuple(candidates)
    if sim[0] + sim[2] > sim[1] + sim[3]:
        return (3,)
    preferred = 2 if subdivision == 3 else 4
    return (preferred,) if preferred in duple else (duple[0],)
