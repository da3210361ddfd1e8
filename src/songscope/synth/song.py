"""Procedural songs with exact ground truth: form, chords, melody, bass and drums.

A :class:`Song` is a seeded score. Its beats fall exactly on the tempo grid (drum hits
and note onsets are placed on it), so the annotated beats, downbeats, sections and key
are exact by construction. :mod:`songscope.synth.render` turns a song into audio stems.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..key.labels import key_name, key_signature
from ..result import time_signature

__all__ = ["Note", "Hit", "Song", "make_song", "DEFAULT_FORM"]

#: Section label and length in bars.
DEFAULT_FORM: tuple[tuple[str, int], ...] = (
    ("intro", 2), ("verse", 4), ("chorus", 4), ("verse", 4), ("chorus", 4), ("outro", 2),
)

_MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
# progressions as scale degrees (0-based), cadencing on the tonic so that the key is clear;
# chord quality follows the scale (diatonic triads)
_PROGRESSIONS = {
    "intro": (0, 4, 0, 4), "verse": (0, 5, 3, 4), "chorus": (3, 4, 0, 0), "bridge": (5, 3, 4, 4),
    "inst": (0, 5, 3, 4), "solo": (0, 5, 3, 4), "break": (3, 3, 0, 0), "outro": (3, 4, 0, 0),
    "prechorus": (1, 3, 1, 4),
}
_LOUDNESS = {"intro": 0.55, "verse": 0.75, "chorus": 1.0, "bridge": 0.8, "inst": 0.85, "solo": 0.9,
             "break": 0.45, "outro": 0.55, "prechorus": 0.85}


@dataclass
class Note:
    """A pitched note: onset and duration in seconds, MIDI pitch, velocity in (0, 1]."""

    start: float
    duration: float
    pitch: int
    velocity: float


@dataclass
class Hit:
    """A drum hit: time (s), kind (kick, snare, hat, crash), velocity in (0, 1]."""

    time: float
    kind: str
    velocity: float


@dataclass
class Song:
    """A procedural song and its ground truth.

    Attributes:
        tempo: BPM. beats_per_bar: meter numerator. tonic: pitch class (0 = C). minor: mode.
        form: (label, bars) per section; labels are ``HARMONIX_LABELS`` names or ``prechorus``
            (a raw name that annotations merge into ``verse``). lead_in, tail: silence before and after (s).
        parts: notes per part (bass, other, optional other_2, vocals); drums: hits.
        subdivision: pulses per beat (2: simple meters; 3: compound, 6/8 has two beats).
    """

    tempo: float
    beats_per_bar: int
    tonic: int
    minor: bool
    form: tuple[tuple[str, int], ...]
    lead_in: float
    tail: float
    parts: dict[str, list[Note]] = field(default_factory=dict)
    drums: list[Hit] = field(default_factory=list)
    subdivision: int = 2

    @property
    def time_signature(self) -> str:
        """"4/4", "3/4", "6/8", ... (compound meters count eighths)."""
        return time_signature(self.beats_per_bar, self.subdivision)

    @property
    def beat_period(self) -> float:
        return 60.0 / self.tempo

    @property
    def num_bars(self) -> int:
        return sum(bars for _, bars in self.form)

    @property
    def duration(self) -> float:
        return self.lead_in + self.num_bars * self.beats_per_bar * self.beat_period + self.tail

    @property
    def key(self) -> str:
        return key_name(self.tonic, self.minor)

    @property
    def key_signature(self) -> str:
        return key_signature(self.tonic, self.minor)

    def beats(self) -> tuple[np.ndarray, np.ndarray]:
        """Beat times (s) and their positions in the bar (1 = downbeat)."""
        n = self.num_bars * self.beats_per_bar
        times = self.lead_in + np.arange(n) * self.beat_period
        return times, np.arange(n) % self.beats_per_bar + 1

    def sections(self) -> list[tuple[float, float, str]]:
        """``(start, end, label)`` tiling [0, duration], with 'start' and 'end' silences."""
        out = [(0.0, self.lead_in, "start")] if self.lead_in > 0 else []
        t = self.lead_in
        bar = self.beats_per_bar * self.beat_period
        for label, bars in self.form:
            out.append((t, t + bars * bar, label))
            t += bars * bar
        out.append((t, self.duration, "end"))
        return out


def _chord(tonic: int, scale: tuple[int, ...], degree: int) -> list[int]:
    """Pitch classes of the diatonic triad on ``degree``; in minor the dominant (degree 4)
    takes the raised leading tone (harmonic minor), as common-practice and pop harmony do."""
    triad = [(tonic + scale[(degree + k) % 7]) % 12 for k in (0, 2, 4)]
    if scale == _MINOR_SCALE and degree == 4:
        triad[1] = (tonic + 11) % 12
    return triad


def _nearest(pc: int, around: int) -> int:
    """MIDI pitch of class ``pc`` closest to ``around``."""
    base = around - ((around - pc) % 12)
    return base if around - base <= 6 else base + 12


def make_song(seed: int = 0, tempo: float | None = None, beats_per_bar: int = 4, tonic: int | None = None,
              minor: bool | None = None, form: tuple[tuple[str, int], ...] = DEFAULT_FORM,
              lead_in: float = 0.5, tail: float = 1.0) -> Song:
    """Compose a seeded song.

    Args:
        seed: random seed; the same arguments give the same song.
        tempo: BPM (default: drawn from 80-140).
        beats_per_bar: 3 or 4 (drum pattern follows).
        tonic: pitch class of the key (default: drawn). minor: mode (default: drawn).
        form: sections as (label, bars).
        lead_in, tail: seconds of silence before and after the music.
    """
    rng = np.random.default_rng(seed)
    tempo = float(tempo if tempo is not None else rng.uniform(80, 140))
    tonic = int(tonic if tonic is not None else rng.integers(12))
    minor = bool(minor if minor is not None else rng.random() < 0.4)
    song = Song(tempo, beats_per_bar, tonic, minor, tuple(form), lead_in, tail)
    scale = _MINOR_SCALE if minor else _MAJOR_SCALE
    beat = song.beat_period
    bar_len = beats_per_bar * beat
    bass, chords, lead = [], [], []
    melodies: dict[str, list[list[tuple[int, float, float]]]] = {}
    bar_index = 0
    for label, bars in form:
        gain = _LOUDNESS.get(label, 0.8)
        progression = _PROGRESSIONS.get(label, _PROGRESSIONS["verse"])
        if label not in melodies:  # a section's melody is the same every time it returns
            melodies[label] = [[(int(rng.integers(-3, 5)), float(o), float(d)) for o, d in
                                _rhythm(rng, beats_per_bar)] for _ in range(len(progression))]
        for b in range(bars):
            t0 = lead_in + bar_index * bar_len
            degree = progression[b % len(progression)]
            triad = _chord(tonic, scale, degree)
            root = _nearest(triad[0], 40)
            for k in range(beats_per_bar):  # bass: root on every beat, fifth on the last
                pitch = root if k < beats_per_bar - 1 or label in {"intro", "outro"} else _nearest(triad[2], root + 4)
                bass.append(Note(t0 + k * beat, 0.9 * beat, pitch, gain * (1.0 if k == 0 else 0.8)))
            for pc in triad:  # sustained chord, re-struck louder on choruses' half bars
                pitch = _nearest(pc, 62)
                if label == "chorus":
                    half = beats_per_bar // 2 or 1
                    chords.append(Note(t0, half * beat * 0.95, pitch, 0.8 * gain))
                    chords.append(Note(t0 + half * beat, (beats_per_bar - half) * beat * 0.95, pitch, 0.7 * gain))
                else:
                    chords.append(Note(t0, bar_len * 0.97, pitch, 0.7 * gain))
            if label not in {"intro", "outro", "break", "inst"}:
                register = 72 if label == "chorus" else 67
                for step, onset, dur in melodies[label][b % len(progression)]:
                    pc = triad[step % 3] if step % 2 == 0 else (tonic + scale[(scale.index((triad[0] - tonic) % 12) + step) % 7]) % 12
                    lead.append(Note(t0 + onset * beat, dur * beat * 0.9, _nearest(pc, register), gain))
            song.drums.extend(_drum_bar(rng, label, t0, beat, beats_per_bar, gain, first=(b == 0)))
            bar_index += 1
    song.parts = {"bass": bass, "other": chords, "vocals": lead}
    return song


def _rhythm(rng: np.random.Generator, beats_per_bar: int) -> list[tuple[float, float]]:
    """Melody rhythm of one bar as (onset, duration) in beats: quarters and eighth pairs."""
    out, pos = [], 0.0
    while pos < beats_per_bar - 1e-9:
        if rng.random() < 0.35 and pos + 1 <= beats_per_bar:
            out += [(pos, 0.5), (pos + 0.5, 0.5)]
            pos += 1.0
        else:
            length = 2.0 if rng.random() < 0.25 and pos + 2 <= beats_per_bar else 1.0
            out.append((pos, length))
            pos += length
    return out


def _drum_bar(rng: np.random.Generator, label: str, t0: float, beat: float, beats_per_bar: int,
              gain: float, first: bool) -> list[Hit]:
    """Drum hits of one bar: kick on the downbeat (and mid-bar in 4/4), snare on the
    backbeats, eighth-note hats; intros and outros keep only kick and hats, choruses
    open with a crash."""
    hits = []
    sparse = label in {"intro", "outro", "break"}
    for k in range(beats_per_bar):
        t = t0 + k * beat
        vel = gain * float(rng.uniform(0.85, 1.0))
        if k == 0 or (beats_per_bar == 4 and k == 2):
            hits.append(Hit(t, "kick", vel))
        elif not sparse:
            hits.append(Hit(t, "snare", vel * 0.9))
        hits.append(Hit(t, "hat", vel * 0.6))
        if not sparse:
            hits.append(Hit(t + beat / 2, "hat", vel * 0.35))
    if first and label == "chorus":
        hits.append(Hit(t0, "crash", gain * 0.8))
    return hits
