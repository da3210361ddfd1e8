"""The classic beat pipeline: features -> activations -> bar-pointer DBN -> beats and meter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..audio.features import Features
from .activations import beat_activation, downbeat_activation
from .dbn import DBNConfig, decode_downbeats
from .tempo import bpm_from_beats

__all__ = ["BeatTrack", "track_beats", "CLASSIC_DBN"]

#: Decoder settings of the classic engine: madmom's downbeat model plus a mild tempo
#: preference around 110 BPM (the classic activations carry off-beat onsets that an
#: unbiased decoder too often locks onto at double tempo).
CLASSIC_DBN = DBNConfig(beats_per_bar=(3, 4), min_bpm=55.0, max_bpm=215.0, num_tempi=60,
                        threshold=0.05, tempo_prior=(110.0, 0.7))


@dataclass
class BeatTrack:
    """Beats of one recording.

    Attributes:
        beats: (N,) beat times in seconds.
        positions: (N,) position of each beat in its bar, 1 = downbeat.
        beats_per_bar: decoded meter (beats per bar); 0 when no beat was found.
        bpm: tempo from the steady inter-beat intervals, None with fewer than 2 beats.
        activations: (T, 2) [beat, downbeat] probabilities at ``fps`` that were decoded.
        fps: frame rate of ``activations``.
    """

    beats: np.ndarray
    positions: np.ndarray
    beats_per_bar: int
    bpm: float | None
    activations: np.ndarray
    fps: float

    @property
    def downbeats(self) -> np.ndarray:
        """(M,) times of the beats at position 1."""
        return self.beats[self.positions == 1]


def track_beats(features: Features, config: DBNConfig = CLASSIC_DBN) -> BeatTrack:
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
    return BeatTrack(beats, positions, meter, bpm_from_beats(beats), joint, features.fps)
