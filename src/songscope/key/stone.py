"""Key inference with a ChromaNet (STONE / 24-STONE): preprocessing as the official
``inference.py`` does it, windowing, averaging, and the calibration of a model's outputs."""

from __future__ import annotations

import numpy as np
import torch

from ..audio.signal import Audio
from ..errors import AudioError, ConfigError
from ..result import KeyResult
from .chromanet import KeyModel
from .checkpoint import labels_from_reference_index
from .config import MIN_WINDOW_SECONDS
from .labels import key_signature, parse_key

__all__ = ["calibrate", "predict", "prepare_track", "window_probabilities", "windows"]


def prepare_track(audio: Audio, target_rate: int = 22050) -> np.ndarray:
    """Mono track as STONE feeds it: the channel mean at ``target_rate``, divided by its peak.

    Returns:
        (N,) float32 at ``target_rate``, peak 1.

    Raises:
        AudioError: digital silence.
    """
    track = audio.mono(target_rate)
    peak = float(np.max(np.abs(track))) if track.size else 0.0
    if peak == 0.0:
        where = f"{audio.path}: " if audio.path else ""
        raise AudioError(f"{where}digital silence, nothing for key estimation")
    return track / np.float32(peak)


def windows(track: np.ndarray, length: int, overlap: float = 0.0,
            min_length: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Analysis windows (n, 1, length) and their starts (samples); the remainder is dropped,
    a track shorter than one window is one shorter window (as STONE does), and a track
    shorter than ``min_length`` is first repeated end to end up to that length."""
    if not 0.0 <= overlap < 1.0:
        raise ConfigError("overlap must be in [0, 1)")
    if len(track) < min_length:
        track = np.resize(track, min_length)
    if len(track) <= length:
        return track[None, None, :], np.zeros(1, dtype=np.int64)
    hop = max(1, int(round(length * (1.0 - overlap))))
    starts = np.arange(0, len(track) - length + 1, hop)
    return np.stack([track[s:s + length] for s in starts])[:, None, :], starts


@torch.no_grad()
def window_probabilities(model: KeyModel, track: np.ndarray, overlap: float = 0.0,
                         batch: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Softmax outputs per window, (n, K), and window starts in seconds, (n,)."""
    sr = model.config.hcqt.sample_rate
    segs, starts = windows(track, int(round(model.config.segment_seconds * sr)), overlap,
                           int(MIN_WINDOW_SECONDS * sr))
    device = next(model.parameters()).device
    probs = []
    for i in range(0, len(segs), batch):
        x = torch.from_numpy(np.ascontiguousarray(segs[i:i + batch])).to(device)
        probs.append(model.probabilities(x).cpu().numpy())
    return np.concatenate(probs), starts / sr


def predict(model: KeyModel, labels: tuple[str, ...], track: np.ndarray, overlap: float = 0.0,
            name: str = "") -> KeyResult:
    """Key of a prepared track: softmax per window, averaged, argmax (STONE's decision).

    Args:
        model: a loaded :class:`KeyModel`. labels: output index -> key or key signature.
        track: output of :func:`prepare_track` at the model's rate.
        overlap: fraction of overlap between consecutive windows.
        name: model name recorded in the result.

    Returns:
        a :class:`~songscope.result.KeyResult` whose ``scores`` are the mean window probabilities;
        12-class models give the key signature only (``key`` and ``mode`` None).
    """
    per_window, starts = window_probabilities(model, track, overlap)
    mean = per_window.mean(axis=0)
    index = int(np.argmax(mean))
    label = labels[index]
    if model.config.num_classes == 24:
        key, mode, signature = label, label.split()[1], key_signature(*parse_key(label))
    else:
        key, mode, signature = None, None, label
    return KeyResult(key, signature, mode, float(mean[index]), name, tuple(labels), mean,
                     window_starts=starts, window_labels=[labels[i] for i in per_window.argmax(axis=1)])


def calibrate(model: KeyModel, reference: Audio, reference_key: str = "C major") -> tuple[str, ...]:
    """Index-to-key map of a (self-supervised) model from a recording in a known major key
    (STONE's pitch-fork calibration), e.g. ``calibrate(model, decode("Cmajor.mp3"))``."""
    track = prepare_track(reference, model.config.hcqt.sample_rate)
    per_window, _ = window_probabilities(model, track)
    index = int(np.argmax(per_window.mean(axis=0)))
    return labels_from_reference_index(model.config.num_classes, index, reference_key)
