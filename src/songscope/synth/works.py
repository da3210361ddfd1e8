"""Works and versions: the same composition arranged and performed in different ways.

A :class:`Work` is what cover versions share: key and mode, meter, tempo, a chord progression
and a lead melody per section, and a form. A :class:`Version` is one performance of it:
transposition, tempo (up to +-25 %), instruments, drum style, an edited form (sections
dropped or repeated), humanised timing and velocity. :func:`arrange` turns the pair into a
:class:`~songscope.synth.song.Song` whose beats, downbeats, sections and key are exact.

Meters: 4/4, 3/4 and 2/4 (quarter-note beats, eighth subdivisions) and 6/8 (two dotted-quarter
beats per bar, three eighths each); :func:`compose_work` draws 4/4, 3/4 or 6/8 unless told.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from .soundfont import Instrumentation
from .song import _LOUDNESS, _MAJOR_SCALE, _MINOR_SCALE, Hit, Note, Song, _chord, _nearest

__all__ = ["Work", "Version", "compose_work", "make_versions", "arrange", "DRUM_STYLES", "METERS"]

#: (beats per bar, subdivisions per beat) of each time signature.
METERS = {"4/4": (4, 2), "3/4": (3, 2), "6/8": (2, 3), "2/4": (2, 2)}
#: the meters :func:`compose_work` draws from, and how often
_DRAWN_METERS = {"4/4": 0.7, "3/4": 0.15, "6/8": 0.15}
DRUM_STYLES = ("rock", "four_on_floor", "halftime", "sparse")

_FORMS = (
    (("intro", 4), ("verse", 8), ("chorus", 8), ("verse", 8), ("chorus", 8), ("bridge", 4), ("chorus", 8),
     ("outro", 4)),
    (("intro", 4), ("verse", 8), ("chorus", 8), ("inst", 4), ("verse", 8), ("chorus", 8), ("outro", 4)),
    (("intro", 2), ("verse", 8), ("verse", 8), ("chorus", 8), ("solo", 8), ("chorus", 8), ("outro", 4)),
    (("intro", 4), ("verse", 8), ("chorus", 8), ("break", 2), ("verse", 8), ("chorus", 8), ("chorus", 8),
     ("outro", 4)),
)
# chord cycles (scale degrees, one per bar) that cadence on the tonic, per section function
_CYCLES = {
    "verse": ((0, 5, 3, 4), (0, 3, 4, 0), (0, 4, 5, 3), (5, 3, 0, 4)),
    "chorus": ((3, 4, 0, 0), (0, 4, 5, 3), (3, 0, 4, 0), (5, 3, 4, 4)),
    "bridge": ((5, 3, 4, 4), (3, 4, 5, 4), (1, 4, 0, 5)),
    "intro": ((0, 4, 0, 4), (0, 3, 0, 4)),
}
_CYCLE_OF = {"outro": "chorus", "solo": "verse", "inst": "verse", "break": "chorus"}
_PROGRAMS = {"bass": (33, 34, 32, 38, 35), "other": (4, 0, 48, 19, 24, 5, 89),
             "other_2": (46, 11, 25, 8, 61), "vocals": (52, 53, 54, 73, 65, 56)}


@dataclass(frozen=True)
class Work:
    """A composition.

    Attributes:
        work_id: name. tonic: pitch class (0 = C); minor: mode. time_signature: "4/4",
        "3/4" or "6/8". tempo: beats per minute (dotted quarters in 6/8).
        form: (label, bars) per section. progressions: label -> scale degrees, one per bar,
        cycled. melodies: label -> per bar of the cycle, notes as (scale step from the
        chord root, onset, duration), onset and duration in beats.
    """

    work_id: str
    tonic: int
    minor: bool
    time_signature: str
    tempo: float
    form: tuple[tuple[str, int], ...]
    progressions: dict[str, tuple[int, ...]] = field(hash=False)
    melodies: dict[str, tuple[tuple[tuple[int, float, float], ...], ...]] = field(hash=False)

    @property
    def beats_per_bar(self) -> int:
        return METERS[self.time_signature][0]

    @property
    def subdivision(self) -> int:
        return METERS[self.time_signature][1]


@dataclass(frozen=True)
class Version:
    """A performance of a work.

    Attributes:
        version_id: name. transpose: semitones. tempo_factor: tempo multiplier.
        programs: GM programs of bass, other, other_2 (None: one accompaniment part), vocals.
        drum_style: one of :data:`DRUM_STYLES`. form: sections played (None: the work's).
        timing_jitter: std of note and hit onsets (s) around the grid; the annotated beats
            stay on the grid. velocity_jitter: std of velocity factors. seed: performance seed.
        lead_in, tail: silence before and after (s).
    """

    version_id: str
    transpose: int = 0
    tempo_factor: float = 1.0
    programs: dict[str, int | None] = field(default_factory=lambda: {"bass": 33, "other": 4, "other_2": None,
                                                                       "vocals": 52}, hash=False)
    drum_style: str = "rock"
    form: tuple[tuple[str, int], ...] | None = None
    timing_jitter: float = 0.005
    velocity_jitter: float = 0.06
    seed: int = 0
    lead_in: float = 0.5
    tail: float = 1.5

    def instrumentation(self) -> Instrumentation:
        """The programs as a soundfont :class:`~songscope.synth.soundfont.Instrumentation`."""
        return Instrumentation(**{part: program for part, program in self.programs.items() if program is not None})


def _melody_bar(rng: np.random.Generator, beats: int, subdivision: int) -> tuple[tuple[int, float, float], ...]:
    """One bar of melody: a rhythm on the subdivision grid, chord tones on strong positions."""
    step, notes, pos = 1.0 / subdivision, [], 0.0
    while pos < beats - 1e-9:
        length = step * int(rng.choice([1, 2, subdivision, 2 * subdivision], p=[0.3, 0.3, 0.3, 0.1]))
        length = min(length, beats - pos)
        on_beat = abs(pos - round(pos)) < 1e-9
        degree = int(rng.choice([0, 2, 4])) if on_beat else int(rng.integers(-2, 6))
        if rng.random() > 0.1 or on_beat:
            notes.append((degree, round(pos, 6), round(length, 6)))
        pos += length
    return tuple(notes)


def compose_work(seed: int, work_id: str | None = None, meter: str | None = None) -> Work:
    """A seeded composition: 4/4 (70 %), 3/4 or 6/8, 80-140 BPM (50-80 dotted quarters in 6/8)
    narrowed so that the original lasts 60-120 s, one of several forms, a chord cycle and a
    melody per section function. ``meter`` (a key of :data:`METERS`, ConfigError otherwise)
    replaces the drawn meter; the form is drawn as without it, the rest follows the meter."""
    rng = np.random.default_rng([seed, 7])
    drawn = str(rng.choice(list(_DRAWN_METERS), p=list(_DRAWN_METERS.values())))
    if meter is not None and meter not in METERS:
        raise ConfigError(f"unknown meter {meter!r} (choose from {', '.join(METERS)})")
    meter = meter or drawn
    beats, subdivision = METERS[meter]
    form = _FORMS[int(rng.integers(len(_FORMS)))]
    total = beats * sum(bars for _, bars in form)
    low, high = (50.0, 80.0) if meter == "6/8" else (80.0, 140.0)
    # the original lasts 60-120 s: at most 116 s of music (plus lead-in and tail), at least 60 s
    low, high = max(low, total * 60 / 116), min(high, total * 60 / 60)
    tempo = float(rng.uniform(low, max(low, high)))
    progressions, melodies = {}, {}
    for label in dict.fromkeys(lab for lab, _ in form):
        cycles = _CYCLES[_CYCLE_OF.get(label, label)]
        progressions[label] = cycles[int(rng.integers(len(cycles)))]
        melodies[label] = tuple(_melody_bar(rng, beats, subdivision) for _ in progressions[label])
    return Work(work_id or f"work{seed:05d}", int(rng.integers(12)), bool(rng.random() < 0.4), meter,
                round(tempo, 2), form, progressions, melodies)


def _edited_form(rng: np.random.Generator, form: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    """Drop one inner non-chorus section, or repeat the last chorus, or keep the form."""
    sections = list(form)
    choice = rng.random()
    inner = [i for i, (label, _) in enumerate(sections[1:-1], 1) if label not in ("chorus", "verse")]
    if choice < 0.4 and inner:
        del sections[inner[int(rng.integers(len(inner)))]]
    elif choice < 0.8:
        last = max(i for i, (label, _) in enumerate(sections) if label == "chorus")
        sections.insert(last + 1, sections[last])
    return tuple(sections)


def make_versions(work: Work, count: int, seed: int = 0) -> list[Version]:
    """The original (no transposition, the work's tempo and form, default instruments) and
    ``count - 1`` covers that differ in transposition (-5..+6, not 0), tempo (x0.75-1.25),
    instruments, drum style and form."""
    rng = np.random.default_rng([seed, 11, zlib.crc32(work.work_id.encode())])
    versions = [Version(f"{work.work_id}_v0", seed=int(rng.integers(2 ** 31)))]
    for v in range(1, count):
        transpose = int(rng.choice([t for t in range(-5, 7) if t != 0]))
        programs = {part: int(rng.choice(options)) for part, options in _PROGRAMS.items()}
        if rng.random() < 0.5:
            programs["other_2"] = None
        style = str(rng.choice([s for s in DRUM_STYLES if s != versions[-1].drum_style]))
        versions.append(Version(f"{work.work_id}_v{v}", transpose, round(float(rng.uniform(0.75, 1.25)), 3),
                                programs, style, _edited_form(rng, work.form), seed=int(rng.integers(2 ** 31))))
    return versions


class _Performer:
    """Places notes and hits with humanised timing and velocity."""

    def __init__(self, version: Version):
        self.rng = np.random.default_rng(version.seed)
        self.version = version

    def when(self, t: float) -> float:
        jitter = float(np.clip(self.rng.normal(0, self.version.timing_jitter), -2.5 * self.version.timing_jitter,
                               2.5 * self.version.timing_jitter))
        return max(0.0, t + jitter)

    def how_loud(self, velocity: float) -> float:
        return float(np.clip(velocity * (1 + self.rng.normal(0, self.version.velocity_jitter)), 0.05, 1.0))

    def note(self, t: float, duration: float, pitch: int, velocity: float) -> Note:
        return Note(self.when(t), duration, pitch, self.how_loud(velocity))

    def hit(self, t: float, kind: str, velocity: float) -> Hit:
        return Hit(self.when(t), kind, self.how_loud(velocity))


def _drum_bar(p: _Performer, style: str, label: str, t0: float, beat: float, beats: int, subdivision: int,
              gain: float, fill: bool) -> list[Hit]:
    """One bar of drums in ``style``; sparse in intros, outros and breaks; a snare/tom fill
    on the last beat before a new section."""
    hits, step = [], beat / subdivision
    sparse = label in ("intro", "outro", "break") or style == "sparse"
    backbeats = {1, 3} if beats == 4 else ({1, 2} if beats == 3 else {1})
    for k in range(beats):
        t = t0 + k * beat
        if fill and k == beats - 1:
            for s in range(subdivision * 2):
                hits.append(p.hit(t + s * step / 2, "snare" if s % 3 else "tom", gain * (0.6 + 0.05 * s)))
            continue
        if k == 0 or style == "four_on_floor" or (style == "rock" and beats == 4 and k == 2):
            hits.append(p.hit(t, "kick", gain))
        if not sparse and ((style == "halftime" and k == beats // 2) or (style != "halftime" and k in backbeats)):
            hits.append(p.hit(t, "snare", gain * 0.9))
        cymbal = "ride" if style == "halftime" else "hat"
        for s in range(subdivision if not sparse else 1):
            kind = "open_hat" if style == "four_on_floor" and s == subdivision - 1 else cymbal
            hits.append(p.hit(t + s * step, kind, gain * (0.55 if s == 0 else 0.35)))
    return hits


def arrange(work: Work, version: Version) -> Song:
    """The score of ``version`` of ``work``: bass, one or two accompaniment parts ('other'),
    lead ('vocals') and drums, with section dynamics (choruses denser and louder than
    verses), sparse intros, fills into new sections and crashes on their downbeats."""
    tonic = (work.tonic + version.transpose) % 12
    beats, subdivision = work.beats_per_bar, work.subdivision
    form = version.form or work.form
    song = Song(work.tempo * version.tempo_factor, beats, tonic, work.minor, tuple(form), version.lead_in,
                version.tail, subdivision=subdivision)
    p = _Performer(version)
    scale = _MINOR_SCALE if work.minor else _MAJOR_SCALE
    beat, parts = song.beat_period, {"bass": [], "other": [], "other_2": [], "vocals": []}
    bar_len, bar_index = beats * beat, 0
    for s, (label, bars) in enumerate(form):
        gain, cycle = _LOUDNESS.get(label, 0.8), work.progressions[label]
        for b in range(bars):
            t0 = version.lead_in + bar_index * bar_len
            triad = _chord(tonic, scale, cycle[b % len(cycle)])
            root = _nearest(triad[0], 40)
            for k in range(beats):
                pitch = root if k % 2 == 0 or label in ("intro", "outro") else _nearest(triad[2], root + 4)
                parts["bass"].append(p.note(t0 + k * beat, 0.9 * beat, pitch, gain * (1.0 if k == 0 else 0.8)))
            strikes = range(beats) if label in ("chorus", "solo") else [0]
            for k in strikes:
                length = (beat if len(strikes) > 1 else bar_len) * 0.95
                for pc in triad:
                    parts["other"].append(p.note(t0 + k * beat, length, _nearest(pc, 62), 0.7 * gain))
            if version.programs.get("other_2") is not None and label not in ("intro", "break"):
                for q in range(beats * subdivision):  # arpeggio on the subdivision grid
                    t = t0 + q * beat / subdivision
                    parts["other_2"].append(p.note(t, beat / subdivision * 0.9, _nearest(triad[q % 3], 74), 0.5 * gain))
            if label in ("verse", "chorus", "bridge", "solo"):
                register = 72 if label in ("chorus", "solo") else 67
                for step, onset, dur in work.melodies[label][b % len(cycle)]:
                    position = scale.index((triad[0] - tonic) % 12) if (triad[0] - tonic) % 12 in scale else 0
                    pc = (tonic + scale[(position + step) % 7]) % 12
                    parts["vocals"].append(p.note(t0 + onset * beat, dur * beat * 0.9, _nearest(pc, register), gain))
            last_bar = b == bars - 1 and s < len(form) - 1
            if label != "intro" or b >= bars // 2:  # intros start without drums
                song.drums.extend(_drum_bar(p, version.drum_style, label, t0, beat, beats, subdivision, gain,
                                            fill=last_bar))
            if b == 0 and s > 0 and label in ("chorus", "solo", "bridge", "inst"):
                song.drums.append(p.hit(t0, "crash", gain * 0.8))
            bar_index += 1
    song.parts = {name: notes for name, notes in parts.items() if notes}
    return song
