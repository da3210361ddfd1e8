"""The classic beat tracker as a ``beats`` family: multi-band flux activations decoded by the
bar-pointer DBN (no weights)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..audio.features import ANALYSIS_SR, compute_features
from ..audio.signal import Audio, View
from ..models.family import Family
from ..result import BeatResult
from .dbn import DBNConfig
from .track import classic_dbn, track_beats

__all__ = ["ClassicBeats", "FAMILIES"]


@dataclass
class ClassicBeats:
    """Engine: mono 22.05 kHz -> :class:`~songscope.result.BeatResult`."""

    name: str
    dbn: DBNConfig
    family: str = "classic"
    task: str = "beats"
    views: tuple[View, ...] = (View(ANALYSIS_SR, 1),)
    uses_stems: bool = False

    def predict(self, audio: Audio) -> BeatResult:
        """Beats, downbeats, meter and tempo of ``audio``."""
        return track_beats(compute_features(audio.mono(ANALYSIS_SR), ANALYSIS_SR), self.dbn)


def _load(name: str, checkpoint: Any, device: str | None, settings: Mapping[str, Any]) -> ClassicBeats:
    return ClassicBeats(name, classic_dbn(settings))


FAMILIES = (Family("classic", "beats", "spectral-flux activations + bar-pointer DBN (no weights)", _load,
                   builtin_names=("classic",)),)
