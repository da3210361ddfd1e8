"""Key families: ``classic`` (CQT chroma + key profiles, no weights) and ``stone`` (ChromaNet,
STONE / 24-STONE, trainable). Several ``stone`` models given as ``-m a,b`` average their
probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..audio.features import ANALYSIS_SR
from ..audio.signal import Audio, View
from ..models.family import Engine, Family
from ..result import KeyResult
from .classic import DEFAULT_PROFILES, estimate_key_classic
from .config import KeyTrainConfig
from .labels import KEY_SIGNATURES, KEYS, key_signature, parse_key

__all__ = ["ClassicKey", "FAMILIES", "StoneKey", "combine_keys"]

_STONE_RATE = 22050


@dataclass
class ClassicKey:
    """Engine: mono 22.05 kHz -> :class:`~songscope.result.KeyResult` (template correlations)."""

    name: str
    profiles: tuple[str, ...]
    family: str = "classic"
    task: str = "key"
    views: tuple[View, ...] = (View(ANALYSIS_SR, 1),)
    uses_stems: bool = False

    def predict(self, audio: Audio) -> KeyResult:
        """Key of ``audio`` from its tuned, loudness-weighted chroma."""
        return estimate_key_classic(audio.mono(ANALYSIS_SR), ANALYSIS_SR, self.profiles)


@dataclass
class StoneKey:
    """Engine: a ChromaNet over 15 s windows of the peak-normalised mono track at 22.05 kHz."""

    name: str
    model: Any
    labels: tuple[str, ...]
    overlap: float
    family: str = "stone"
    task: str = "key"
    views: tuple[View, ...] = (View(_STONE_RATE, 1),)
    uses_stems: bool = False

    def predict(self, audio: Audio) -> KeyResult:
        """Mean window probabilities and their argmax label (STONE's decision)."""
        from .stone import predict, prepare_track

        return predict(self.model, self.labels, prepare_track(audio, _STONE_RATE), self.overlap, self.name)


def _load_classic(name: str, checkpoint: Any, device: str | None, settings: Mapping[str, Any]) -> ClassicKey:
    return ClassicKey(name, tuple(settings.get("profiles") or DEFAULT_PROFILES))


def _load_stone(name: str, checkpoint: Any, device: str | None, settings: Mapping[str, Any]) -> StoneKey:
    from ..device import select_device
    from .checkpoint import key_model_from_checkpoint

    model, labels = key_model_from_checkpoint(checkpoint, select_device(device))
    return StoneKey(name, model, labels, float(settings.get("overlap") or 0.0))


def _as_signatures(result: KeyResult) -> np.ndarray:
    """(12,) probabilities over :data:`KEY_SIGNATURES` (a key counts for its relative pair)."""
    out = np.zeros(12)
    for label, p in zip(result.labels, result.scores):
        out[KEY_SIGNATURES.index(label if label in KEY_SIGNATURES else key_signature(*parse_key(label)))] += p
    return out


def _as_keys(result: KeyResult) -> np.ndarray:
    """(24,) probabilities over :data:`KEYS` of a 24-class model."""
    out = np.zeros(24)
    for label, p in zip(result.labels, result.scores):
        out[KEYS.index(label)] = p
    return out


@dataclass
class KeyEnsemble:
    """Several ChromaNets as one engine: their mean probabilities over the keys (all 24-class)
    or over the key signatures (otherwise)."""

    name: str
    parts: list[Engine]
    family: str = "stone"
    task: str = "key"
    views: tuple[View, ...] = (View(_STONE_RATE, 1),)
    uses_stems: bool = False

    def predict(self, audio: Audio) -> KeyResult:
        results = [part.predict(audio) for part in self.parts]
        full = all(r.key is not None for r in results)
        labels = KEYS if full else KEY_SIGNATURES
        scores = np.mean([_as_keys(r) if full else _as_signatures(r) for r in results], axis=0)
        best = labels[int(np.argmax(scores))]
        key, mode = (best, best.split()[1]) if full else (None, None)
        signature = key_signature(*parse_key(best)) if full else best
        return KeyResult(key, signature, mode, float(scores.max()), self.name, labels, scores)


def combine_keys(name: str, parts: list[Engine]) -> KeyEnsemble:
    """``-m a,b``: ChromaNets averaged (see :class:`KeyEnsemble`)."""
    return KeyEnsemble(name, parts)


def _train(config: KeyTrainConfig, progress: bool):
    from .training import train_key_model

    return train_key_model(config, progress)


FAMILIES = (
    Family("classic", "key", "tuned CQT chroma correlated with key profiles (no weights)", _load_classic,
           builtin_names=("classic",)),
    Family("stone", "key", "ChromaNet (STONE / 24-STONE, ISMIR 2024); trainable self-, semi- or fully supervised",
           _load_stone, needs=("torch",), config=KeyTrainConfig, train=_train, ensemble=combine_keys),
)
