"""The classic structure engine as a ``structure`` family (``analyze -m classic``): classic beats,
then self-similarity sections labelled by decoding repetition, position and duration under priors
from the Harmonix Set's annotations, from one set of frame features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..audio.features import ANALYSIS_SR, compute_features
from ..audio.signal import Audio, View
from ..beats.dbn import DBNConfig
from ..beats.track import classic_dbn, track_beats
from ..models.family import Family
from ..result import StructureResult
from .classic import segment_classic

__all__ = ["ClassicStructure", "FAMILIES"]


@dataclass
class ClassicStructure:
    """Engine: mono 22.05 kHz -> :class:`~songscope.result.StructureResult` (no embeddings; the
    frame features are kept as ``features``)."""

    name: str
    dbn: DBNConfig
    family: str = "classic"
    task: str = "structure"
    views: tuple[View, ...] = (View(ANALYSIS_SR, 1),)
    uses_stems: bool = False

    def predict(self, audio: Audio) -> StructureResult:
        """Beats and labelled sections of ``audio``, with allin1's activation curves at 100 fps."""
        mono = audio.mono(ANALYSIS_SR)
        features = compute_features(mono, ANALYSIS_SR)
        beats = track_beats(features, self.dbn)
        sections = segment_classic(features, beats.beats, beats.downbeats, len(mono) / ANALYSIS_SR)
        activations = {"beat": beats.activations.sum(axis=1).astype(np.float32),
                       "downbeat": beats.activations[:, 1].astype(np.float32),
                       "segment": sections.novelty, "label": sections.label_activations}
        kept = {"log_bands": features.log_bands, "chroma": features.chroma, "mfcc": features.mfcc,
                "rms_db": features.rms_db, "fps": np.float32(features.fps)}
        return StructureResult(beats, sections.segments, activations, None, kept)


def _load(name: str, checkpoint: Any, device: str | None, settings: Mapping[str, Any]) -> ClassicStructure:
    return ClassicStructure(name, classic_dbn(settings))


FAMILIES = (Family("classic", "structure",
                   "classic beats + self-similarity sections, labels decoded with Harmonix Set priors (no weights)",
                   _load, builtin_names=("classic",)),)
