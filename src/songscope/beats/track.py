"""The classic beat pipeline: features -> activations -> bar-pointer DBN -> beats and meter."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

import numpy as np

from ..audio.features import Features
from ..result import BeatResult
from .activations import beat_activation, downbeat_activation
from .dbn import DBNConfig, decode_downbeats
from .tempo import bpm_from_beats

__all__ = ["CLASSIC_DBN", "classic_dbn", "dbn_with_settings", "track_beats"]

#: Decoder settings of the classic engine: madmom's downbeat model plus a mild tempo
#: preference around 110 BPM (the classic activations carry off-beat onsets that an
#: unbiased decoder too often locks onto at double tempo).
CLASSIC_DBN = DBNConfig(beats_per_bar=(3, 4), min_bpm=55.0, max_bpm=215.0, num_tempi=60,
                        threshold=0.05, tempo_prior=(110.0, 0.7))


def dbn_with_settings(base: DBNConfig, settings: Mapping[str, Any]) -> DBNConfig:
    """``base`` with the task settings ``meters`` (beats per bar), ``min_bpm`` and ``max_bpm``
    applied where given.

    Raises:
        ConfigError: meters below 1 or an empty / inverted tempo range.
    """
    changes = {"beats_per_bar": tuple(int(m) for m in settings["meters"])} if settings.get("meters") else {}
    changes.update({k: float(settings[k]) for k in ("min_bpm", "max_bpm") if settings.get(k) is not None})
    return replace(base, **changes)


def classic_dbn(settings: Mapping[str, Any]) -> DBNConfig:
    """:data:`CLASSIC_DBN` with the task settings applied (:func:`dbn_with_settings`)."""
    return dbn_with_settings(CLASSIC_DBN, settings)


def track_beats(features: Features, config: DBNConfig = CLASSIC_DBN) -> BeatResult:
    """Track beats, downbeats and meter of a recording from its frame features.

    Args:
        features: :class:`~songscope.audio.features.Features` at ``config.fps``.
        config: decoder settings (meters, tempo range, ...).
    """
    beat = beat_activation(features)
    joint = downbeat_activation(features, beat)
    decoded, path = decode_downbeats(joint, config)
    beats = decoded[:, 0] if len(decoded) else np.empty(0)
    positions = decoded[:, 1].astype(int) if len(decoded) else np.empty(0, dtype=int)
    meter = path.num_beats if path is not None and len(beats) else 0
    return BeatResult(beats, positions, meter, bpm_from_beats(beats), joint, features.fps)
