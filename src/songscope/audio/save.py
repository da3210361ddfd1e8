"""Writing audio files atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from ..atomic import atomic_path

__all__ = ["save_audio"]


def save_audio(path: str | Path, samples: np.ndarray, sample_rate: int, subtype: str | None = None) -> Path:
    """Write ``samples`` (channels, frames) or (frames,) to ``path``; format from the suffix.

    WAV is written as 16-bit PCM unless ``subtype`` says otherwise (e.g. ``"FLOAT"``).
    Samples are clipped to [-1, 1] for integer formats.
    """
    data = np.asarray(samples, dtype=np.float32)
    data = data.T if data.ndim == 2 else data
    path = Path(path)
    if subtype is None and path.suffix.lower() in {".wav", ".flac"}:
        subtype = "PCM_16"
    if subtype and subtype.startswith("PCM"):
        data = np.clip(data, -1.0, 1.0)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), data, int(sample_rate), subtype=subtype)
    return path
