"""Writing audio files atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from ..atomic import atomic_path

__all__ = ["save_audio"]

_BLOCK = 1 << 15


def save_audio(path: str | Path, samples: np.ndarray, sample_rate: int, subtype: str | None = None) -> Path:
    """Write ``samples`` (channels, frames) or (frames,) to ``path``; format from the suffix.

    WAV is written as 16-bit PCM unless ``subtype`` says otherwise (e.g. ``"FLOAT"``).
    Samples are clipped to [-1, 1] for integer formats; int16 samples are written as they are.
    """
    data = np.asarray(samples)
    data = data if data.dtype == np.int16 else data.astype(np.float32)
    data = data.T if data.ndim == 2 else data
    path = Path(path)
    if subtype is None and path.suffix.lower() in {".wav", ".flac"}:
        subtype = "PCM_16"
    if subtype and subtype.startswith("PCM") and data.dtype != np.int16:
        data = np.clip(data, -1.0, 1.0)
    channels = 1 if data.ndim == 1 else data.shape[1]
    with atomic_path(path) as tmp:
        # block-wise: libsndfile's Vorbis/Opus encoders crash on very large single writes
        with sf.SoundFile(str(tmp), "w", int(sample_rate), channels, subtype=subtype,
                          format=_format(path)) as handle:
            for start in range(0, len(data), _BLOCK):
                handle.write(data[start:start + _BLOCK])
    return path


def _format(path: Path) -> str:
    """libsndfile major format from a file suffix."""
    suffix = path.suffix.lower().lstrip(".")
    return {"oga": "OGG", "opus": "OGG", "aif": "AIFF", "wave": "WAV"}.get(suffix, suffix.upper())
