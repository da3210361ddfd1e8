"""Beats, downbeats, meter and tempo: classic activations, DBN decoding, tempo estimation."""

from .activations import beat_activation, downbeat_activation, onset_strength
from .dbn import DBNConfig, DecodedPath, beat_intervals, decode_beats, decode_downbeats
from .tempo import bpm_from_beats, tempo_from_activation
from .track import CLASSIC_DBN, track_beats

__all__ = [
    "CLASSIC_DBN", "DBNConfig", "DecodedPath", "beat_activation", "beat_intervals", "bpm_from_beats",
    "decode_beats", "decode_downbeats", "downbeat_activation", "onset_strength",
    "tempo_from_activation", "track_beats",
]
