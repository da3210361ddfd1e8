"""No rhythm, no beats: arrhythmic signals rendered here get no beats and ``bpm: null``; a rhythmic
track keeps its beats and gets them only where it plays; every result says how sure it is."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, sosfilt

from songscope.audio.features import compute_features
from songscope.beats import track_beats

from .conftest import SR

SECONDS = 12.0


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def white_noise(seed: int = 0) -> np.ndarray:
    """Gaussian white noise, (N,) at -20 dBFS RMS."""
    return 0.1 * _rng(seed).standard_normal(int(SECONDS * SR))


def pink_noise(seed: int = 1) -> np.ndarray:
    """1/f noise (white noise shaped by 1/sqrt(f) in the frequency domain), -20 dBFS RMS."""
    spec = np.fft.rfft(_rng(seed).standard_normal(int(SECONDS * SR)))
    spec /= np.sqrt(np.maximum(np.arange(len(spec)), 1))
    pink = np.fft.irfft(spec, int(SECONDS * SR))
    return 0.1 * pink / pink.std()


def sustained_chord() -> np.ndarray:
    """A C major triad of harmonic tones with a 1 s fade-in, held for the whole signal."""
    t = np.arange(int(SECONDS * SR)) / SR
    chord = sum(np.sin(2 * np.pi * f0 * h * t) / h for f0 in (261.63, 329.63, 392.0) for h in range(1, 6))
    return 0.1 * chord * np.minimum(t, 1.0)


def pure_tone() -> np.ndarray:
    """A 440 Hz sine with 50 ms fades."""
    t = np.arange(int(SECONDS * SR)) / SR
    return 0.3 * np.sin(2 * np.pi * 440.0 * t) * np.minimum(1.0, np.minimum(t, SECONDS - t) / 0.05)


def speech_like(seed: int = 2) -> np.ndarray:
    """Syllables of band-passed noise and a gliding voiced buzz (80-300 ms, irregular gaps,
    phrases separated by pauses), like speech's syllable rhythm without its words."""
    rng = _rng(seed)
    out = np.zeros(int(SECONDS * SR))
    t = 0.2
    while t < SECONDS - 0.5:
        for _ in range(rng.integers(3, 9)):  # one phrase
            dur = rng.uniform(0.08, 0.3)
            n = int(dur * SR)
            k = np.arange(n) / SR
            f0 = rng.uniform(100, 220) * (1 + 0.2 * k / dur * rng.choice([-1, 1]))
            buzz = np.sign(np.sin(2 * np.pi * np.cumsum(f0) / SR)) * 0.5
            lo = rng.uniform(300, 900)
            sos = butter(2, [lo, lo * rng.uniform(2, 4)], btype="band", fs=SR, output="sos")
            syllable = sosfilt(sos, buzz + 0.3 * rng.standard_normal(n)) * np.sin(np.pi * k / dur) ** 2
            start = int(t * SR)
            out[start:start + n] += syllable[: len(out) - start] * rng.uniform(0.3, 1.0)
            t += dur + rng.exponential(0.12)
            if t > SECONDS - 0.5:
                break
        t += rng.uniform(0.3, 1.2)
    return 0.3 * out / np.abs(out).max()


def arrhythmic_texture(seed: int = 3) -> np.ndarray:
    """Plucked tones of random pitch at Poisson-random times (4 a second on average)."""
    rng = _rng(seed)
    out = np.zeros(int(SECONDS * SR))
    k = np.arange(int(0.6 * SR)) / SR
    for onset in np.cumsum(rng.exponential(0.25, 200)):
        start = int(onset * SR)
        if start >= len(out):
            break
        f0 = 110.0 * 2 ** rng.uniform(0, 4)
        note = np.sin(2 * np.pi * f0 * k) * np.exp(-k / rng.uniform(0.05, 0.3))
        out[start:start + len(k)] += note[: len(out) - start] * rng.uniform(0.2, 1.0)
    return 0.3 * out / np.abs(out).max()


ARRHYTHMIC = {"white_noise": white_noise, "pink_noise": pink_noise, "sustained_chord": sustained_chord,
              "pure_tone": pure_tone, "speech_like": speech_like, "arrhythmic_texture": arrhythmic_texture}


@pytest.mark.parametrize("kind", sorted(ARRHYTHMIC))
def test_no_rhythm_no_beats(kind):
    track = track_beats(compute_features(ARRHYTHMIC[kind]().astype(np.float32), SR))
    assert len(track.beats) == 0 and len(track.downbeats) == 0
    assert track.bpm is None and track.beats_per_bar == 0
    assert 0.0 <= track.confidence < 0.5


def test_silent_intro_gets_no_beats(song44):
    song, stems = song44
    intro = 6.0
    mix = np.concatenate([np.zeros(int(intro * SR), np.float32), stems["mixture"][: 20 * SR]])
    track = track_beats(compute_features(mix, SR))
    ref, _ = song.beats()
    ref = ref[ref < 20.0] + intro
    assert track.confidence >= 0.5 and track.bpm == pytest.approx(song.tempo, rel=0.02)
    assert track.beats.min() >= intro - 0.07
    # every played beat is still found
    hits = np.abs(track.beats[:, None] - ref[None, :]).min(axis=0) <= 0.07
    assert hits.mean() >= 0.95


def test_confidence_in_the_analysis_json(song_file, tmp_path):
    from songscope.pipeline import analyze_file
    from songscope.result import AnalysisResult

    result = analyze_file(song_file)
    assert 0.5 <= result.beat_confidence <= 1.0
    data = result.to_dict()
    assert data["beat_confidence"] == result.beat_confidence
    assert AnalysisResult.from_dict(data) == result
    del data["beat_confidence"]  # allin1's JSON has no such field
    assert AnalysisResult.from_dict(data).beat_confidence is None
    noise = tmp_path / "noise.wav"
    sf.write(noise, white_noise(), SR)
    data = analyze_file(noise).to_dict()
    assert data["bpm"] is None and data["beats"] == [] and data["downbeats"] == []
    assert data["time_signature"] is None and data["beat_confidence"] < 0.5
