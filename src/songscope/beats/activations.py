"""Classic beat activation function (no learned weights).

Beat activation: multi-band spectral flux. The log-band magnitudes are differenced
against a frequency-max-filtered copy of the previous frame (SuperFlux, Böck & Widmer
2013), half-wave rectified and summed in three bands (below 200 Hz, 200 Hz - 2 kHz,
above 2 kHz). Each band's flux is normalised by its running 95th percentile (6 s), the
bands are averaged with the low band weighted up (kick and bass mark the beat), a local
mean is subtracted, and the result is squashed into (0, 1) so the DBN can read it as a
probability. The downbeat cue is measured between decoded beats (:mod:`.bars`).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, percentile_filter, uniform_filter1d

from ..audio.features import ANALYSIS_SR, N_FFT, Features

__all__ = ["audible_frames", "beat_activation", "onset_strength", "strongest_onset_near"]

_EPS = 1e-4


def _running_scale(x: np.ndarray, fps: float, seconds: float = 6.0, q: float = 95.0) -> np.ndarray:
    """Running ``q``-th percentile of ``x`` over ``seconds`` (decimated for speed)."""
    step = max(1, int(fps // 10))
    coarse = x[::step]
    size = max(3, int(seconds * fps / step) | 1)
    scale = percentile_filter(coarse, q, size=size, mode="nearest")
    return np.repeat(scale, step)[: len(x)]


def onset_strength(features: Features) -> np.ndarray:
    """Band-wise SuperFlux onset strength, (T, 3): low (<200 Hz), mid, high (>2 kHz) bands."""
    bands = features.log_bands
    ref = maximum_filter1d(bands, size=3, axis=1)
    # A 93 ms window sees an onset's energy rise before the onset itself: the flux of
    # frame t is credited to frame t + lag (lag = 30 % of the window, 3 frames at 100 fps).
    lag = int(round(0.3 * N_FFT / ANALYSIS_SR * features.fps))
    diff = np.zeros_like(bands)
    diff[1 + lag:] = np.maximum(bands[1:len(bands) - lag] - ref[:len(bands) - 1 - lag], 0.0)
    hz = 440.0 * 2 ** ((features.band_midi - 69) / 12.0)
    groups = [hz < 200.0, (hz >= 200.0) & (hz < 2000.0), hz >= 2000.0]
    return np.stack([diff[:, g].sum(axis=1) for g in groups], axis=1)


def strongest_onset_near(onset: np.ndarray, times: np.ndarray, fps: float, reach_s: float) -> np.ndarray:
    """The strongest ``onset`` within ``reach_s`` seconds of each of ``times``.

    Args:
        onset: (T,) non-negative onset strength at ``fps`` (e.g. a band of :func:`onset_strength`).
        times: seconds, any shape; each is read at its nearest frame, clipped to the recording.
        fps: frames per second. reach_s: half-width of the window (at least one frame).

    Returns:
        float64 array of the shape of ``times``, in the units of ``onset``.
    """
    reach = max(1, int(round(reach_s * fps)))
    strongest = maximum_filter1d(np.asarray(onset, dtype=float), 2 * reach + 1, mode="constant", cval=0.0)
    frames = np.round(np.asarray(times, dtype=float) * fps).astype(np.int64)
    return strongest[np.clip(frames, 0, len(strongest) - 1)]


def audible_frames(features: Features, range_db: float = 50.0) -> np.ndarray:
    """(T,) bool: frames within ``range_db`` of the recording's loud level (its 95th percentile
    frame energy); the rest is silence and gives no beat evidence."""
    return features.rms_db > (np.percentile(features.rms_db, 95) - range_db)


def beat_activation(features: Features, flux: np.ndarray | None = None) -> np.ndarray:
    """Beat probability per frame, (T,) in (0, 1), at ``features.fps`` (``flux``: the
    :func:`onset_strength` of ``features`` when already computed)."""
    flux = onset_strength(features) if flux is None else flux
    norm = np.empty_like(flux)
    for b in range(flux.shape[1]):
        scale = _running_scale(flux[:, b], features.fps)
        norm[:, b] = flux[:, b] / np.maximum(scale, 1e-3 + 1e-3 * flux[:, b].max())
    combined = norm @ np.array([0.45, 0.3, 0.25])
    local = uniform_filter1d(combined, size=int(0.3 * features.fps) | 1, mode="nearest")
    peaky = np.maximum(combined - local, 0.0)
    act = np.clip(peaky, 0.0, None) ** 1.5 * audible_frames(features)
    return np.clip(act / (1.0 + act), _EPS, 1.0 - 2 * _EPS)
