"""Tempo: from an activation function (autocorrelation) and from decoded beats."""

from __future__ import annotations

import numpy as np

__all__ = ["autocorrelation", "comb_tempo_prior", "tempo_from_activation", "bpm_from_beats", "bpm_mode"]


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Autocorrelation of ``x`` with its mean removed, lags ``0 .. max_lag`` ((max_lag + 1,)),
    unnormalised (lag 0 holds the energy); zeros past the signal's length."""
    x = np.asarray(x, dtype=float)
    x = x - x.mean()
    n = len(x)
    spec = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spec * np.conj(spec), 2 * n)[: max_lag + 1]
    return np.pad(acf, (0, max_lag + 1 - len(acf)))


def comb_tempo_prior(activation: np.ndarray, fps: float, harmonics: int = 4, floor: float = 0.3):
    """A per-recording tempo preference from a comb filter over the autocorrelation.

    The salience of a tempo is the mean normalised autocorrelation (clipped at 0) of the
    activation at 1 .. ``harmonics`` times its beat period, so a tempo whose beats, bars and
    half bars all recur scores high, and an unrelated tempo (3/2 of the true one, say) low.

    Args:
        activation: (T,) onset or beat activation at ``fps``.
        fps: frames per second.
        harmonics: periods summed by the comb.
        floor: salience floor, relative to the best tempo (bounds the penalty at ``log(floor)``).

    Returns:
        a function BPM (K,) -> log weight (K,), 0 at the most salient of the given tempi.
    """
    x = np.asarray(activation, dtype=float)
    acf = autocorrelation(x, len(x) - 1)
    acf = np.clip(acf / acf[0], 0.0, None) if acf[0] > 0 else np.zeros_like(acf)

    def log_weight(bpm: np.ndarray) -> np.ndarray:
        lags = 60.0 * fps / np.asarray(bpm, dtype=float)
        multiples = lags[:, None] * np.arange(1, harmonics + 1)[None, :]
        comb = np.interp(multiples, np.arange(len(acf)), acf, right=0.0).mean(axis=1)
        best = comb.max()
        relative = comb / best if best > 0 else np.ones_like(comb)
        return np.log(floor + (1.0 - floor) * relative)

    return log_weight


def tempo_from_activation(activation: np.ndarray, fps: float = 100.0, min_bpm: float = 40.0,
                          max_bpm: float = 240.0, prior: tuple[float, float] = (110.0, 1.0),
                          top: int = 2) -> list[tuple[float, float]]:
    """Tempo candidates from the autocorrelation of an activation function.

    The autocorrelation (mean removed) is weighted by a log-normal preference
    ``exp(-0.5 * (log2(bpm / centre) / width) ** 2)`` and searched for local maxima,
    each refined by parabolic interpolation.

    Args:
        activation: (T,) onset or beat activation at ``fps``.
        fps: frames per second.
        min_bpm, max_bpm: search range (BPM).
        prior: ``(centre_bpm, width_octaves)`` of the preference.
        top: number of candidates returned.

    Returns:
        up to ``top`` pairs ``(bpm, relative strength)``, strongest first; strengths sum to 1.
    """
    x = np.asarray(activation, dtype=float)
    n = len(x)
    lag_lo = max(1, int(np.floor(60.0 * fps / max_bpm)))
    lag_hi = min(n - 1, int(np.ceil(60.0 * fps / min_bpm)))
    if lag_hi <= lag_lo + 1 or not np.any(x - x.mean()):
        return []
    acf = autocorrelation(x, lag_hi + 1)
    lags = np.arange(len(acf))
    with np.errstate(divide="ignore"):
        bpm = 60.0 * fps / lags
    weight = np.exp(-0.5 * (np.log2(np.maximum(bpm, 1e-9) / prior[0]) / prior[1]) ** 2)
    score = np.where((lags >= lag_lo) & (lags <= lag_hi), acf * weight, -np.inf)
    peaks = [k for k in range(lag_lo, lag_hi + 1)
             if score[k] > 0 and score[k] >= score[k - 1] and score[k] >= score[k + 1]]
    peaks.sort(key=lambda k: -score[k])
    out = []
    for k in peaks[:top]:
        a, b, c = score[k - 1], score[k], score[k + 1]
        a, c = (b if not np.isfinite(a) else a), (b if not np.isfinite(c) else c)
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
        out.append((60.0 * fps / (k + shift), float(b)))
    total = sum(s for _, s in out)
    return [(bpm_k, s / total) for bpm_k, s in out]


def bpm_from_beats(beats: np.ndarray) -> float | None:
    """Tempo (BPM) from the beats: the mean of the inter-beat intervals within 10 % of their
    median (robust to a few missed or extra beats, and finer than one frame); None with
    fewer than 2 beats."""
    beats = np.asarray(beats, dtype=float)
    if len(beats) < 2:
        return None
    ibi = np.diff(beats)
    median = np.median(ibi)
    steady = ibi[np.abs(ibi - median) <= 0.1 * median]
    return float(60.0 / steady.mean())


def bpm_mode(beats: np.ndarray) -> float | None:
    """Tempo (BPM) as allin1 reports it: the most frequent of the per-interval tempi
    ``60 / diff(beats)`` rounded to integers (a tie goes to the faster tempo; allin1 leaves ties
    to its sort order); None with fewer than 2 beats."""
    beats = np.asarray(beats, dtype=float)
    if len(beats) < 2:
        return None
    counts = np.bincount(np.round(60.0 / np.diff(beats)).astype(int))
    return float(len(counts) - 1 - int(np.argmax(counts[::-1])))
