"""Public key-estimation entry point."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..audio.decode import load_mono
from ..audio.features import ANALYSIS_SR
from ..errors import AudioError
from .classic import DEFAULT_PROFILES, KeyEstimate, estimate_key_classic

__all__ = ["estimate_key"]


def estimate_key(audio: str | Path | np.ndarray, sample_rate: int | None = None,
                 profiles: tuple[str, ...] = DEFAULT_PROFILES) -> KeyEstimate:
    """Key of a file or of samples with the classic engine.

    Args:
        audio: a path, or samples (N,) or (channels, N) with ``sample_rate``.
        sample_rate: Hz, required with samples.
        profiles: key profiles to average (see :data:`songscope.key.PROFILES`).
    """
    if isinstance(audio, (str, Path)):
        mono, _ = load_mono(audio, ANALYSIS_SR)
        sample_rate = ANALYSIS_SR
    else:
        if sample_rate is None:
            raise AudioError("estimate_key: pass sample_rate with an array of samples")
        data = np.asarray(audio, dtype=np.float32)
        mono = data.mean(axis=0) if data.ndim == 2 else data
    if not np.any(mono):
        raise AudioError("estimate_key: the audio is digital silence")
    return estimate_key_classic(mono, int(sample_rate), profiles)
