"""Beats, downbeats, meter and tempo: classic activations, DBN decoding, downbeat cue and meter,
rhythm confidence, tempo estimation."""

from .activations import audible_frames, beat_activation, onset_strength
from .bars import choose_meter, downbeat_cue, downbeat_densities, downbeat_probability
from .dbn import DBNConfig, DecodedPath, TempoPrior, beat_intervals, decode_beats, decode_downbeats
from .meter import beat_subdivision
from .rhythm import BEAT_CONFIDENCE_THRESHOLD, rhythm_confidence
from .tempo import bpm_from_beats, comb_tempo_prior, tempo_from_activation
from .track import CLASSIC_DBN, track_beats

__all__ = [
    "BEAT_CONFIDENCE_THRESHOLD", "CLASSIC_DBN", "DBNConfig", "DecodedPath", "TempoPrior", "audible_frames",
    "beat_activation", "beat_intervals", "beat_subdivision", "bpm_from_beats", "choose_meter", "comb_tempo_prior", "decode_beats",
    "decode_downbeats", "downbeat_cue", "downbeat_densities", "downbeat_probability", "onset_strength",
    "rhythm_confidence", "tempo_from_activation", "track_beats",
]
