"""Rendering a :class:`~songscope.synth.song.Song` to audio with small NumPy instruments.

Every stem is rendered separately (bass, drums, other, vocals) and the mixture is their
exact sum. Instruments: additive tones with per-instrument harmonic recipes and ADSR-like
envelopes, a vibrato 'voice' for the lead, a pitch-swept sine kick, noise snares, hats and
crashes. No soundfont is needed (a FluidSynth renderer can come beside it).
"""

from __future__ import annotations

import numpy as np

from .song import Hit, Note, Song

__all__ = ["STEMS", "mix_stems", "render_song"]

STEMS = ("bass", "drums", "other", "vocals")

# harmonic amplitudes per instrument
_RECIPES = {
    "bass": (1.0, 0.5, 0.33, 0.2, 0.1),
    "other": (1.0, 0.4, 0.25, 0.15, 0.1, 0.06),
    "vocals": (1.0, 0.7, 0.45, 0.3, 0.12, 0.08, 0.05),
}
_LEVELS = {"bass": 0.32, "other": 0.10, "vocals": 0.16, "drums": 0.5}


def _hz(pitch: float) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12.0)


def _tone(note: Note, stem: str, sr: int, rng: np.random.Generator) -> np.ndarray:
    release = 0.08 if stem != "other" else 0.25
    n = int((note.duration + release) * sr)
    t = np.arange(n) / sr
    f0 = _hz(note.pitch)
    if stem == "vocals":  # delayed vibrato, like a singer
        depth = 0.006 * np.clip((t - 0.15) / 0.2, 0, 1)
        phase = 2 * np.pi * np.cumsum(f0 * (1 + depth * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 6)))) / sr
    else:
        phase = 2 * np.pi * f0 * t
    wave = np.zeros(n)
    for k, amp in enumerate(_RECIPES[stem], start=1):
        if k * f0 < 0.45 * sr:
            wave += amp * np.sin(k * phase)
    attack = {"bass": 0.005, "other": 0.04, "vocals": 0.03}[stem]
    env = np.minimum(1.0, t / attack)
    if stem == "bass":
        env *= np.exp(-t / 0.6)
    release_start = note.duration
    env *= np.where(t > release_start, np.exp(-(t - release_start) / (release / 3)), 1.0)
    return (note.velocity * env * wave).astype(np.float32)


def _drum(hit: Hit, sr: int, rng: np.random.Generator) -> np.ndarray:
    if hit.kind == "kick":
        t = np.arange(int(0.35 * sr)) / sr
        freq = 45 + 80 * np.exp(-t / 0.03)
        sound = np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t / 0.12)
    elif hit.kind == "snare":
        t = np.arange(int(0.25 * sr)) / sr
        noise = np.diff(rng.standard_normal(len(t) + 1))
        sound = 0.5 * noise * np.exp(-t / 0.07) + 0.6 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.05)
    elif hit.kind == "hat":
        t = np.arange(int(0.08 * sr)) / sr
        noise = np.diff(rng.standard_normal(len(t) + 2), n=2)
        sound = 0.25 * noise * np.exp(-t / 0.02)
    else:  # crash
        t = np.arange(int(1.5 * sr)) / sr
        noise = np.diff(rng.standard_normal(len(t) + 2), n=2)
        sound = 0.15 * noise * np.exp(-t / 0.5)
    return (hit.velocity * sound).astype(np.float32)


def _place(track: np.ndarray, sound: np.ndarray, time: float, sr: int) -> None:
    start = int(round(time * sr))
    if start < len(track):
        n = min(len(sound), len(track) - start)
        track[start:start + n] += sound[:n]


def render_song(song: Song, sample_rate: int = 22050, seed: int = 0) -> dict[str, np.ndarray]:
    """Render the stems and their mixture.

    Returns:
        dict with ``bass``, ``drums``, ``other``, ``vocals`` and ``mixture``, each float32
        (N,) mono at ``sample_rate``; ``mixture`` is exactly the sum of the four stems.
    """
    rng = np.random.default_rng(seed)
    n = int(np.ceil(song.duration * sample_rate))
    stems = {name: np.zeros(n, dtype=np.float32) for name in STEMS}
    for part, notes in song.parts.items():
        name = "other" if part == "other_2" else part  # the second accompaniment part joins 'other'
        for note in notes:
            _place(stems[name], _LEVELS[name] * _tone(note, name, sample_rate, rng), note.start, sample_rate)
    for hit in song.drums:
        _place(stems["drums"], _LEVELS["drums"] * _drum(hit, sample_rate, rng), hit.time, sample_rate)
    return mix_stems(stems)


def mix_stems(stems: dict[str, np.ndarray], ceiling: float = 0.95) -> dict[str, np.ndarray]:
    """The four stems and ``mixture``, their sum; all scaled by one factor when the
    mixture's peak would exceed ``ceiling``, so the sum stays exact and unclipped."""
    mixture = stems["bass"] + stems["drums"] + stems["other"] + stems["vocals"]
    peak = float(np.abs(mixture).max())
    if peak > ceiling:
        scale = np.float32(ceiling / peak)
        stems = {name: stems[name] * scale for name in STEMS}
        mixture = stems["bass"] + stems["drums"] + stems["other"] + stems["vocals"]
    return {**{name: stems[name] for name in STEMS}, "mixture": mixture}
