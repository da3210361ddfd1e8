"""Decoding (formats, rates, channels, MP3 alignment), resampling, saving, and bad files."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf

from songscope.audio import info, load, load_mono, save_audio
from songscope.errors import AudioError, InputError

from .conftest import need_tool, write_tone


def _click_train(sr: int, seconds: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    """Short decaying 1 kHz bursts every 0.5 s plus a quiet noise floor."""
    rng = np.random.default_rng(0)
    x = 0.01 * rng.standard_normal(int(seconds * sr))
    onsets = np.arange(0.25, seconds - 0.5, 0.5)
    t = np.arange(int(0.05 * sr)) / sr
    burst = 0.8 * np.sin(2 * np.pi * 1000 * t) * np.exp(-t / 0.01)
    for o in onsets:
        i = int(o * sr)
        x[i:i + len(burst)] += burst
    return x.astype(np.float32), onsets


def _lag_ms(reference: np.ndarray, other: np.ndarray, sr: int, max_ms: float = 60.0) -> float:
    """Lag (ms) maximising the cross-correlation of two envelopes; positive = other is late."""
    max_lag = int(max_ms * sr / 1000)
    n = min(len(reference), len(other)) - 2 * max_lag
    a = reference[max_lag:max_lag + n]
    scores = [np.dot(a, other[max_lag + d:max_lag + d + n]) for d in range(-max_lag, max_lag + 1)]
    return (int(np.argmax(scores)) - max_lag) * 1000.0 / sr


@pytest.mark.parametrize("suffix,subtype", [(".wav", "PCM_16"), (".flac", "PCM_24"), (".ogg", "VORBIS")])
def test_formats_decode_to_the_written_signal(tmp_path, suffix, subtype):
    x, _ = _click_train(44100, 3.0)
    path = save_audio(tmp_path / f"clicks{suffix}", x, 44100, subtype=subtype)
    y, sr = load(path)
    assert sr == 44100 and y.shape == (1, len(x))
    err = np.max(np.abs(y[0] - x))
    assert err < (1e-4 if subtype.startswith("PCM") else 0.1)
    assert _lag_ms(np.abs(x), np.abs(y[0]), sr) == 0.0


def test_mp3_from_lame_decodes_aligned_with_the_wav(tmp_path):
    lame = need_tool("lame")
    x, _ = _click_train(44100)
    wav = save_audio(tmp_path / "clicks.wav", x, 44100)
    mp3 = tmp_path / "clicks.mp3"
    subprocess.run([lame, "--quiet", "-b", "192", str(wav), str(mp3)], check=True)
    y, sr = load(mp3)
    assert sr == 44100
    assert abs(len(y[0]) - len(x)) < 0.005 * sr  # gapless: encoder delay and padding removed
    lag = _lag_ms(np.abs(x), np.abs(y[0]), sr)
    assert abs(lag) < 5.0, f"MP3 decoded {lag:.2f} ms off the WAV"


def test_ffmpeg_fallback_for_formats_libsndfile_cannot_read(tmp_path):
    ffmpeg = need_tool("ffmpeg")
    x, _ = _click_train(44100, 3.0)
    wav = save_audio(tmp_path / "clicks.wav", x, 44100)
    m4a = tmp_path / "clicks.m4a"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(wav), "-c:a", "aac", "-b:a", "192k", str(m4a)], check=True)
    meta = info(m4a)
    assert meta.decoder == "ffmpeg" and meta.sample_rate == 44100
    y, sr = load(m4a)
    assert sr == 44100 and abs(y.shape[1] - len(x)) < 0.05 * sr


def test_resampling_keeps_frequency_and_length(tmp_path):
    path = write_tone(tmp_path / "tone.wav", seconds=2.0, sr=48000, freq=1000.0)
    y, meta = load_mono(path, 22050)
    assert meta.sample_rate == 48000
    assert abs(len(y) - 2.0 * 22050) <= 2
    spectrum = np.abs(np.fft.rfft(y[2000:-2000] * np.hanning(len(y) - 4000)))
    peak_hz = np.argmax(spectrum) * 22050 / (len(y) - 4000)
    assert abs(peak_hz - 1000.0) < 2.0


def test_eight_channels_and_192_khz_are_read(tmp_path):
    path = write_tone(tmp_path / "multi.wav", seconds=1.5, sr=192000, channels=8, subtype="PCM_24")
    meta = info(path)
    assert (meta.channels, meta.sample_rate) == (8, 192000)
    y, _ = load_mono(path, 22050)
    assert abs(len(y) - int(1.5 * 22050)) <= 2
    assert 0.2 < np.max(np.abs(y)) < 0.35


def test_non_ascii_path(tmp_path):
    folder = tmp_path / "Björk – Jóga ♪"
    folder.mkdir()
    path = write_tone(folder / "canción.flac", seconds=1.0)
    y, sr = load(path)
    assert sr == 22050 and y.shape[1] == 22050


def test_missing_empty_truncated_and_non_audio_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        info(tmp_path / "absent.wav")
    with pytest.raises(InputError, match="directory"):
        info(tmp_path)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        info(empty)
    good = write_tone(tmp_path / "good.wav", seconds=2.0)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[:20000])
    with pytest.raises(AudioError, match="truncated"):
        load(cut)
    junk = tmp_path / "notes.mp3"
    junk.write_text("these are not the samples you are looking for\n" * 50)
    with pytest.raises(AudioError):
        load(junk)


def test_save_audio_is_atomic_and_keeps_no_temporary(tmp_path):
    path = save_audio(tmp_path / "out.wav", np.zeros((2, 1000)), 22050)
    assert sf.info(str(path)).channels == 2
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]
