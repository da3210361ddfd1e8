"""Public key-estimation entry point: any key engine of the model registry."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ..audio.decode import require_music
from ..audio.signal import Audio, decode
from ..errors import AudioError, ConfigError
from ..models.family import Engine
from ..result import KeyResult
from .classic import DEFAULT_PROFILES

__all__ = ["estimate_key", "key_engine"]


@lru_cache(maxsize=4)
def _cached(model: str, device: str | None, overlap: float, profiles: tuple[str, ...]) -> Engine:
    from ..models.registry import load_engine

    return load_engine("key", model, device, {"overlap": overlap, "profiles": profiles})


def key_engine(model: str = "classic", device: str | None = None, overlap: float = 0.0,
               profiles: tuple[str, ...] = DEFAULT_PROFILES) -> Engine:
    """The key engine of a ``-m`` value, loaded once per process.

    Raises:
        ConfigError: ``overlap`` outside [0, 1), or an unknown model or device.
    """
    if not 0.0 <= overlap < 1.0:
        raise ConfigError("overlap must be in [0, 1)")
    return _cached(str(model), device, float(overlap), tuple(profiles))


def estimate_key(audio: str | Path | np.ndarray | Audio, sample_rate: int | None = None, model: str = "classic",
                 device: str | None = None, overlap: float = 0.0,
                 profiles: tuple[str, ...] = DEFAULT_PROFILES) -> KeyResult:
    """Key of a file or of samples.

    Args:
        audio: a path, decoded :class:`~songscope.audio.signal.Audio`, or samples (N,) or
            (channels, N) with ``sample_rate``.
        sample_rate: Hz, required with samples.
        model: ``"classic"`` (CQT chroma + profiles, no weights), a registry name
            (``"stone12"``, ``"stone24"``), a checkpoint path, or ``a,b`` (averaged).
        device: for neural models; default CUDA, MPS, then CPU.
        overlap: window overlap for neural models (0 = STONE's non-overlapping 15 s windows).
        profiles: key profiles of the classic engine.

    Raises:
        AudioError: silence, shorter than 1 s, or unreadable audio.
    """
    engine = key_engine(model, device, overlap, profiles)
    if isinstance(audio, np.ndarray):
        if sample_rate is None:
            raise AudioError("estimate_key: pass sample_rate with an array of samples")
        audio = Audio.from_array(audio, sample_rate)
    elif not isinstance(audio, Audio):
        audio = decode(audio, engine.views)
    view = engine.views[0]
    require_music(audio.mono(view.sample_rate), view.sample_rate, "key estimation", audio.path)
    return engine.predict(audio)
