"""Conventions every part of songscope shares: stem order, section labels, pitch classes,
frame rate, audio file endings and device names. Defined once, here."""

from __future__ import annotations

__all__ = ["AUDIO_SUFFIXES", "DEVICES", "FPS", "HARMONIX_LABELS", "PITCH_NAMES", "SEEKABLE_SUFFIXES", "STEMS"]

#: Stem order everywhere in songscope (as allin1 and Demucs).
STEMS: tuple[str, ...] = ("bass", "drums", "other", "vocals")

#: The 10 section labels of the Harmonix Set as ``allin1`` merges them, in the order of its
#: label activations.
HARMONIX_LABELS: tuple[str, ...] = (
    "start", "end", "intro", "outro", "break", "bridge", "inst", "solo", "verse", "chorus",
)

#: Pitch-class names; chroma vectors, key indices and pitch classes use class 0 = C everywhere.
PITCH_NAMES: tuple[str, ...] = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

#: Frame rate of beat and structure activations (frames per second), as allin1.
FPS = 100.0

#: File endings picked up when a folder is given (case-insensitive).
AUDIO_SUFFIXES = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".m4a",
    ".aac", ".wma", ".mp4", ".webm", ".mka", ".caf", ".w64", ".rf64",
})

#: Endings of the files libsndfile reads from any position (training reads random chunks of these).
SEEKABLE_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".ogg", ".aiff", ".aif")

#: Devices a model can run on (``cuda:1`` names a CUDA device by index).
DEVICES: tuple[str, ...] = ("cpu", "cuda", "mps")
