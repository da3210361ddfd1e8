"""Audio input/output and features: decode (soundfile, ffmpeg fallback) once into the forms
the engines read, resample, save; CQT and frame features."""

from .decode import AudioInfo, info, iter_blocks
from .save import save_audio
from .signal import Audio, View, decode, load, load_mono

__all__ = ["Audio", "AudioInfo", "View", "decode", "info", "iter_blocks", "load", "load_mono", "save_audio"]
