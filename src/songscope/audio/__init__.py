"""Audio input/output and features: decode (soundfile, ffmpeg fallback), resample, save."""

from .decode import AudioInfo, info, iter_blocks, load, load_mono
from .save import save_audio

__all__ = ["AudioInfo", "info", "iter_blocks", "load", "load_mono", "save_audio"]
