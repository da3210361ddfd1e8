"""Public key-estimation entry point: the classic engine or a ChromaNet checkpoint."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ..audio.decode import load_mono, require_music
from ..audio.features import ANALYSIS_SR
from ..device import select_device
from ..errors import AudioError, InputError
from .classic import DEFAULT_PROFILES, estimate_key_classic

__all__ = ["estimate_key", "select_device"]

@lru_cache(maxsize=4)
def _cached_model(model: str, device: str):
    from .checkpoint import load_key_model

    return load_key_model(model, device)


def estimate_key(audio: str | Path | np.ndarray, sample_rate: int | None = None, model: str = "classic",
                 device: str | None = None, overlap: float = 0.0,
                 profiles: tuple[str, ...] = DEFAULT_PROFILES):
    """Key of a file or of samples.

    Args:
        audio: a path, or samples (N,) or (channels, N) with ``sample_rate``.
        sample_rate: Hz, required with samples.
        model: ``"classic"`` (CQT chroma + profiles, no weights), a registry name
            (``"stone12"``, ``"stone24"``) or a checkpoint path (needs torch).
        device: for neural models; default CUDA, MPS, then CPU.
        overlap: window overlap for neural models (0 = STONE's non-overlapping 15 s windows).
        profiles: key profiles of the classic engine.

    Returns:
        :class:`~songscope.key.classic.KeyEstimate` (classic) or
        :class:`~songscope.key.stone.KeyPrediction` (ChromaNet).
    """
    if isinstance(audio, np.ndarray) and sample_rate is None:
        raise AudioError("estimate_key: pass sample_rate with an array of samples")
    if model != "classic":
        try:
            from .stone import predict, prepare_track
        except ImportError:
            raise InputError(f"model {model!r} needs PyTorch: pip install 'songscope[neural]'") from None
        net, labels = _cached_model(str(model), select_device(device))
        rate = net.config.hcqt.sample_rate
        track = prepare_track(audio, sample_rate, rate)
        require_music(track, rate, "key estimation", audio if isinstance(audio, (str, Path)) else None)
        return predict(net, labels, track, overlap=overlap, name=str(model))
    if isinstance(audio, (str, Path)):
        mono, _ = load_mono(audio, ANALYSIS_SR)
        sample_rate = ANALYSIS_SR
    else:
        data = np.asarray(audio, dtype=np.float32)
        mono = data.mean(axis=0) if data.ndim == 2 else data
    require_music(mono, sample_rate, "key estimation", audio if isinstance(audio, (str, Path)) else None)
    return estimate_key_classic(mono, int(sample_rate), profiles)
