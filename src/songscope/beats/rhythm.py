"""Is there a beat at all? A per-track rhythm confidence from the onset evidence.

Two things must hold for a recording to have beats, and the confidence is the lesser of the
two scores, each mapped linearly onto [0, 1] with 0.5 at its threshold:

- **salience**: the strong onsets are real note or drum onsets, not the ripple of a sustained
  sound. Measured as the 95th percentile (over the audible frames) of the total spectral flux,
  the summed rise of the log10 band magnitudes (0.5 = a summed rise of 10 dB). A pure tone or a
  held chord rises by a fraction of that; music with any attack rises by several times more.
- **periodicity**: the onsets recur at a tempo. Measured as the highest normalised
  autocorrelation of the beat activation at lags of 40-240 BPM (the pulse clarity of Lartillot et
  al. 2008). Noise, speech and randomly timed events stay near 0.1 (the autocorrelation of an
  aperiodic sequence at any lag is its sampling noise); metered music reaches 0.3 and above. The
  threshold 0.2 sits between.

Below 0.5 the classic engine reports no beats (and no tempo).
"""

from __future__ import annotations

import numpy as np

from .tempo import autocorrelation

__all__ = ["BEAT_CONFIDENCE_THRESHOLD", "onset_salience", "periodicity", "rhythm_confidence"]

#: a recording whose confidence is below this gets no beats
BEAT_CONFIDENCE_THRESHOLD = 0.5
_SALIENCE_AT_THRESHOLD = 0.5  # log10 units of summed band rise (10 dB)
_PERIODICITY_AT_THRESHOLD = 0.2
_PERIODICITY_SPAN = 0.4  # periodicity 0 -> score 0, 0.4 -> score 1


def onset_salience(flux: np.ndarray, audible: np.ndarray) -> float:
    """95th percentile of the total flux over audible frames.

    Args:
        flux: (T, bands) half-wave rectified log10-magnitude rises (:func:`onset_strength`).
        audible: (T,) bool, frames that are not silence.
    """
    total = flux.sum(axis=1)[audible]
    return float(np.percentile(total, 95)) if total.size else 0.0


def periodicity(activation: np.ndarray, fps: float, min_bpm: float = 40.0, max_bpm: float = 240.0) -> float:
    """Highest normalised autocorrelation (lag 0 = 1) of ``activation`` (T,) at beat periods
    between ``min_bpm`` and ``max_bpm``; 0 for a constant or too short activation."""
    lag_lo = max(1, int(np.floor(60.0 * fps / max_bpm)))
    lag_hi = int(np.ceil(60.0 * fps / min_bpm))
    acf = autocorrelation(activation, lag_hi)
    if acf[0] <= 0 or len(activation) <= 2 * lag_lo:
        return 0.0
    return float(max(acf[lag_lo:lag_hi + 1].max() / acf[0], 0.0))


def rhythm_confidence(flux: np.ndarray, activation: np.ndarray, audible: np.ndarray, fps: float) -> float:
    """Confidence in [0, 1] that the recording has a beat (the lesser of the salience and
    periodicity scores; see the module docstring).

    Args:
        flux: (T, bands) onset strength. activation: (T,) beat activation.
        audible: (T,) bool mask of non-silent frames. fps: frames per second.
    """
    if not audible.any():
        return 0.0
    salience = 0.5 * onset_salience(flux, audible) / _SALIENCE_AT_THRESHOLD
    pulse = 0.5 + (periodicity(activation[audible], fps) - _PERIODICITY_AT_THRESHOLD) / _PERIODICITY_SPAN
    return float(np.clip(min(salience, pulse), 0.0, 1.0))
