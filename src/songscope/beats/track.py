"""The classic beat pipeline: features -> activations -> bar-pointer DBN -> beats and meter."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

import numpy as np

from ..audio.features import Features
from ..result import BeatResult
from .activations import audible_frames, beat_activation, onset_strength
from .bars import choose_meter, downbeat_cue, downbeat_densities, downbeat_probability
from .dbn import DBNConfig, DecodedPath, TempoPrior, decode_beats, decode_downbeats
from .meter import beat_subdivision
from .phase import OFFBEAT_RATIO, half_beat_ratio, minority_phase, offbeat_mask
from .rhythm import BEAT_CONFIDENCE_THRESHOLD, rhythm_confidence
from .tempo import bpm_from_beats, comb_tempo_prior

__all__ = ["CLASSIC_DBN", "classic_dbn", "dbn_with_settings", "track_beats"]

#: Decoder settings of the classic engine: madmom's downbeat model with 2, 3 or 4 beats per bar
#: (which one is decided from the audio first, :func:`~songscope.beats.bars.choose_meter`); the
#: tempo preference is not fixed but measured per recording
#: (:func:`~songscope.beats.tempo.comb_tempo_prior`).
CLASSIC_DBN = DBNConfig(beats_per_bar=(2, 3, 4), min_bpm=55.0, max_bpm=215.0, num_tempi=60, threshold=0.05)
#: tempo range of the second pass: the first pass's dominant tempo times or divided by this
_TEMPO_MARGIN = 1.2
#: cost (nats) of a one-frame change of the beat interval in the second pass: its tempo-change
#: penalty is this times the dominant beat interval in frames (see :func:`_second_pass_range`)
FRAME_STEP_COST = 20.0
#: times the bars are decoded again with a minority beat phase ruled out (each can uncover one more)
PHASE_ROUNDS = 3
#: a round is kept only if it loses fewer beats than this fraction of the ruled-out stretch's
_KEEP_BEATS = 0.2


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


def _dominant_bpm(beats: np.ndarray) -> float:
    """The tempo (BPM) that the most time is spent at: the peak of the duration-weighted
    histogram of the beat intervals' log tempi (bins of 1/20 octave, smoothed over 3 bins)."""
    ibi = np.diff(beats)
    octaves = np.log2(60.0 / ibi)
    bins = np.arange(octaves.min() - 0.1, octaves.max() + 0.15, 0.05)
    hist, _ = np.histogram(octaves, bins=bins, weights=ibi)
    hist = np.convolve(hist, np.ones(3), mode="same")
    peak = int(np.argmax(hist))
    near = np.abs(octaves - 0.5 * (bins[peak] + bins[peak + 1])) <= 0.075
    return 60.0 / float(np.median(ibi[near])) if near.any() else 60.0 / float(np.median(ibi))


def _second_pass_range(beats: np.ndarray, config: DBNConfig) -> DBNConfig:
    """``config`` with its tempo range narrowed to the first pass's dominant tempo
    (:func:`_dominant_bpm`) widened by :data:`_TEMPO_MARGIN` either way, and its tempo held
    steadier: the tempo-change penalty ``lambda`` makes a change of the beat interval from ``k``
    to ``k'`` frames cost ``lambda * |k'/k - 1|`` nats, and it is set (never below the config's)
    so that a one-frame change at the dominant interval costs :data:`FRAME_STEP_COST`. Madmom's
    100 lets a loud section whose onsets fall between the beats pull the beats half a beat off
    through a brief tempo change; a much stiffer penalty would forbid what a steady tempo between
    two integer intervals needs (alternating between them). Where the narrowed range meets a bound
    of ``config``'s, it reaches one frame beyond it for the same reason: a tempo right at a bound
    (55 BPM is 109.1 frames at 100 fps, the bound's longest interval 109) needs the next interval
    now and then, and without it the decoder drifts and slips a beat."""
    bpm = _dominant_bpm(beats)
    frames = 60.0 * config.fps  # the interval of 1 BPM, in frames
    min_bpm = bpm / _TEMPO_MARGIN
    if min_bpm <= config.min_bpm:  # the dominant tempo is near the range's slow end
        min_bpm = frames / (frames / config.min_bpm + 1.0)
    max_bpm = bpm * _TEMPO_MARGIN
    if max_bpm >= config.max_bpm:
        max_bpm = frames / (frames / config.max_bpm - 1.0)
    stiff = FRAME_STEP_COST * frames / bpm
    return replace(config, min_bpm=min_bpm, max_bpm=max(max_bpm, min_bpm * 1.05),
                   transition_lambda=max(config.transition_lambda, stiff))


def track_beats(features: Features, config: DBNConfig = CLASSIC_DBN) -> BeatResult:
    """Track beats, downbeats and meter of a recording from its frame features.

    Two passes: the beat activation decoded alone (one beat per bar, the whole tempo range,
    a tempo preference from the recording's own periodicity) gives beats; a downbeat cue
    measured between those beats (:mod:`~songscope.beats.bars`) turns the activation into
    [beat, downbeat] densities, the onsets between them say whether the beat divides in two or
    three (:func:`~songscope.beats.meter.beat_subdivision`: simple or compound meter), the bar
    periodicity of those beats picks triple or duple meter
    (:func:`~songscope.beats.bars.choose_meter`), and the bar-pointer DBN decodes beats and
    downbeats jointly within the first pass's dominant tempo range, holding the tempo steadier
    (:func:`_second_pass_range`). When the kick and bass onsets fall more half-way between
    those beats than on them (:func:`~songscope.beats.phase.half_beat_ratio` above
    :data:`~songscope.beats.phase.OFFBEAT_RATIO`: the loudest onsets, hi-hats or an offbeat
    snare, had pulled the beats half a beat off), the decoded phase is ruled out
    (:func:`~songscope.beats.phase.offbeat_mask`) and the bars are decoded once more around the
    half-beats. One beat phase holds for the whole recording: where the decoded beats slip half a
    beat for a stretch (a syncopated intro, a section with offbeat accents), the beats on the
    phase held the shorter time (:func:`~songscope.beats.phase.minority_phase`) are ruled out
    and the bars decoded again, up to :data:`PHASE_ROUNDS` times (ruling one stretch out can move
    the decoder's slip to another; a round that would leave the stretch without beats, because
    nothing plays on the other phase, is not kept). A recording whose rhythm confidence
    (:func:`~songscope.beats.rhythm.rhythm_confidence`) is below
    :data:`~songscope.beats.rhythm.BEAT_CONFIDENCE_THRESHOLD` gets no beats, meter 0 and no tempo.

    Args:
        features: :class:`~songscope.audio.features.Features` at ``config.fps``.
        config: decoder settings (meters, tempo range, ...).
    """
    flux = onset_strength(features)
    beat = beat_activation(features, flux)
    confidence = rhythm_confidence(flux, beat, audible_frames(features), features.fps)
    prior = comb_tempo_prior(beat, features.fps)
    first = (decode_beats(beat, replace(config, beats_per_bar=(1,)), prior)
             if confidence >= BEAT_CONFIDENCE_THRESHOLD else np.empty(0))
    if len(first) < 3:
        joint = np.stack([beat, np.zeros_like(beat)], axis=1)
        return BeatResult(np.empty(0), np.empty(0, dtype=int), 0, None, joint, features.fps, confidence)
    second = _second_pass_range(first, config)
    subdivision = beat_subdivision(flux.sum(axis=1), first, features.fps)
    decoded, path, prob = _decode_bars(features, flux, beat, first, second, prior, subdivision)
    if len(decoded) > 2 and half_beat_ratio(flux[:, 0], decoded[:, 0], features.fps) > OFFBEAT_RATIO:
        beat = beat * offbeat_mask(decoded[:, 0], features.fps, len(beat))
        half = 0.5 * (decoded[:-1, 0] + decoded[1:, 0])
        decoded, path, prob = _decode_bars(features, flux, beat, half, second, prior, subdivision)
    for _ in range(PHASE_ROUNDS):
        minority = minority_phase(decoded[:, 0])
        if not minority.any():
            break
        interval = float(np.median(np.diff(decoded[:, 0])))
        masked = beat * offbeat_mask(decoded[minority, 0], features.fps, len(beat), interval=interval)
        again = _decode_bars(features, flux, masked, decoded[:, 0], second, prior, subdivision)
        if len(again[0]) < len(decoded) - _KEEP_BEATS * minority.sum():
            break  # nothing on the other phase to hold on to: the stretch would lose its beats
        beat, (decoded, path, prob) = masked, again
    joint = np.stack([beat * (1.0 - prob), beat * prob], axis=1)
    beats = decoded[:, 0] if len(decoded) else np.empty(0)
    positions = decoded[:, 1].astype(int) if len(decoded) else np.empty(0, dtype=int)
    meter = path.num_beats if path is not None and len(beats) else 0
    return BeatResult(beats, positions, meter, bpm_from_beats(beats), joint, features.fps, confidence,
                      subdivision if meter else 2)


def _decode_bars(features: Features, flux: np.ndarray, beat: np.ndarray, beats: np.ndarray, config: DBNConfig,
                 prior: TempoPrior, subdivision: int) -> tuple[np.ndarray, DecodedPath | None, np.ndarray]:
    """The joint beat and downbeat decoding around provisional ``beats`` (s): the downbeat cue
    measured between them, the meter from their bar periodicity, then the bar-pointer DBN.

    Args:
        features: frame features. flux: (T, 3) band onset strength. beat: (T,) beat activation.
        beats: (N,) provisional beat times (s). config: decoder settings (tempo range, meters).
        prior: the recording's tempo preference. subdivision: 2 (simple) or 3 (compound beat).

    Returns:
        ``(decoded, path, prob)``: (M, 2) beat times and bar positions, the winning meter's
        path, and the (T,) downbeat probability.
    """
    frames = np.round(beats * features.fps).astype(np.int64)
    prob = downbeat_probability(downbeat_cue(features, flux[:, 0], frames), frames, len(beat))
    meters = choose_meter(features, flux, frames, config.beats_per_bar, subdivision)
    decoded, path = decode_downbeats(downbeat_densities(beat, prob), replace(config, beats_per_bar=meters), prior,
                                     no_beat=1.0 - beat)
    return decoded, path, prob
