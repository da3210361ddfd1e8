"""Key inference with a ChromaNet (STONE / 24-STONE): preprocessing as the official
``inference.py`` does it, windowing, averaging, and the calibration of a model's outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soxr
import torch

from ..audio.decode import load
from ..errors import AudioError
from .chromanet import KeyModel
from .checkpoint import labels_from_reference_index
from .labels import key_signature, parse_key

__all__ = ["KeyPrediction", "calibrate", "predict", "prepare_track", "window_probabilities", "windows"]


@dataclass
class KeyPrediction:
    """A ChromaNet key estimate.

    Attributes:
        key: e.g. ``"C major"`` (None for 12-class models, which only know the signature).
        key_signature: relative pair, e.g. ``"C major/A minor"``.
        mode: ``"major"``/``"minor"`` (None for 12-class models).
        confidence: probability of the winning class, averaged over the windows.
        index: winning output index.
        probabilities: (K,) mean softmax over the windows.
        window_starts: (n,) start of each window (s); window_labels: argmax label per window.
        model: model name or checkpoint path.
    """

    key: str | None
    key_signature: str
    mode: str | None
    confidence: float
    index: int
    probabilities: np.ndarray
    window_starts: np.ndarray = field(repr=False)
    window_labels: list[str] = field(repr=False)
    model: str = ""

    def to_dict(self, per_window: bool = False) -> dict:
        out = {"key": self.key, "key_signature": self.key_signature, "mode": self.mode,
               "confidence": round(float(self.confidence), 4), "model": self.model}
        if per_window:
            out["windows"] = [{"start": round(float(s), 3), "label": lab}
                              for s, lab in zip(self.window_starts, self.window_labels)]
        return out


def prepare_track(audio: str | Path | np.ndarray, sample_rate: int | None = None, target_rate: int = 22050) -> np.ndarray:
    """Mono track as STONE feeds it: resample every channel, average, divide by the peak.

    Args:
        audio: a path, or samples (channels, N) / (N,) with ``sample_rate``.

    Returns:
        (N',) float32 at ``target_rate``, peak 1 (unless silent).
    """
    if isinstance(audio, (str, Path)):
        data, sample_rate = load(audio)
    else:
        if sample_rate is None:
            raise AudioError("pass sample_rate with an array of samples")
        data = np.atleast_2d(np.asarray(audio, dtype=np.float32))
    if sample_rate != target_rate:
        frames = int(np.ceil(data.shape[1] * target_rate / sample_rate))  # torchaudio's length
        data = soxr.resample(data.T, sample_rate, target_rate, quality="VHQ").T
        data = np.pad(data, ((0, 0), (0, max(0, frames - data.shape[1]))))[:, :frames]
    track = np.asarray(data, dtype=np.float32).mean(axis=0)
    peak = float(np.max(np.abs(track))) if track.size else 0.0
    if peak == 0.0:
        where = f"{audio}: " if isinstance(audio, (str, Path)) else ""
        raise AudioError(f"{where}digital silence, nothing for key estimation")
    return track / np.float32(peak)


def windows(track: np.ndarray, length: int, overlap: float = 0.0,
            min_length: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Analysis windows (n, 1, length) and their starts (samples); the remainder is dropped,
    a track shorter than one window is one shorter window (as STONE does), and a track
    shorter than ``min_length`` is first repeated end to end up to that length."""
    if not 0.0 <= overlap < 1.0:
        raise ValueError("overlap must be in [0, 1)")
    if len(track) < min_length:
        track = np.resize(track, min_length)
    if len(track) <= length:
        return track[None, None, :], np.zeros(1, dtype=np.int64)
    hop = max(1, int(round(length * (1.0 - overlap))))
    starts = np.arange(0, len(track) - length + 1, hop)
    return np.stack([track[s:s + length] for s in starts])[:, None, :], starts


MIN_WINDOW_SECONDS = 3.0
"""Shortest input the ChromaNet's time pooling accepts (with 15 s windows and the default
front end, 2.5 s fails); shorter clips are repeated up to it."""


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
            name: str = "") -> KeyPrediction:
    """Key of a prepared track: softmax per window, averaged, argmax (STONE's decision).

    Args:
        model: a loaded :class:`KeyModel`. labels: output index -> key or key signature.
        track: output of :func:`prepare_track` at the model's rate.
        overlap: fraction of overlap between consecutive windows.
        name: model name recorded in the prediction.
    """
    per_window, starts = window_probabilities(model, track, overlap)
    mean = per_window.mean(axis=0)
    index = int(np.argmax(mean))
    label = labels[index]
    if model.config.num_classes == 24:
        key, mode, signature = label, label.split()[1], key_signature(*parse_key(label))
    else:
        key, mode, signature = None, None, label
    return KeyPrediction(key, signature, mode, float(mean[index]), index, mean, starts,
                         [labels[i] for i in per_window.argmax(axis=1)], name)


def calibrate(model: KeyModel, reference: str | Path | np.ndarray, reference_key: str = "C major",
              sample_rate: int | None = None) -> tuple[str, ...]:
    """Index-to-key map of a (self-supervised) model from a recording in a known major key
    (STONE's pitch-fork calibration), e.g. ``calibrate(model, "Cmajor.mp3")``."""
    track = prepare_track(reference, sample_rate, model.config.hcqt.sample_rate)
    per_window, _ = window_probabilities(model, track)
    index = int(np.argmax(per_window.mean(axis=0)))
    return labels_from_reference_index(model.config.num_classes, index, reference_key)
