"""CQT against its definition and librosa, tuning estimation, classic key estimation."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from songscope.audio.cqt import CQTSpec, cqt, estimate_tuning
from songscope.errors import AudioError, InputError
from songscope.key import KEY_SIGNATURES, estimate_key_classic, key_signature, parse_key
from songscope.key.classic import WEAK_CLARITY
from songscope import estimate_key
from songscope.synth import make_song, render_song

from .conftest import KEY_DIR, SR, need, write_tone

SPEC = CQTSpec()


def test_cqt_equals_its_definition():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(SPEC.sample_rate * 3)
    out = cqt(x, SPEC)
    freqs = SPEC.frequencies
    frame = 8
    centre = frame * SPEC.hop
    for k in (0, 40, 100, 179):
        # the shared atom: periodic Hann of length n times a complex exponential, unit L1
        # norm; sample j at time j - ceil(n / 2) relative to the frame centre
        n = int(np.ceil(SPEC.q * SPEC.sample_rate / freqs[k]))
        tau = np.arange(n) - (n + 1) // 2
        window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
        atom = window * np.exp(2j * np.pi * freqs[k] * tau / SPEC.sample_rate)
        atom /= np.abs(atom).sum()
        direct = np.sum(x[centre + tau] * np.conj(atom))
        # the spectral kernel drops coefficients below 0.5 % of each bin's peak
        assert abs(out[frame, k] - direct) < 0.01 * np.abs(out[:, k]).mean()


def test_cqt_peaks_match_librosa():
    librosa = pytest.importorskip("librosa")
    sr = SPEC.sample_rate
    t = np.arange(sr * 4) / sr
    freqs = SPEC.frequencies
    x = np.sin(2 * np.pi * freqs[61] * t) + 0.5 * np.sin(2 * np.pi * freqs[130] * t)
    ours = np.abs(cqt(x, SPEC))[5:-5].mean(axis=0)
    ref = np.abs(librosa.cqt(x, sr=sr, hop_length=SPEC.hop, fmin=SPEC.fmin, n_bins=SPEC.n_bins,
                             bins_per_octave=SPEC.bins_per_octave, scale=False)).T[5:-5].mean(axis=0)
    for spectrum in (ours, ref):
        assert np.argmax(spectrum) == 61
        assert spectrum[130] == max(spectrum[125:136])  # the second partial is a local peak
    # librosa leaves its filters unnormalised by length (scale=False); ours are normalised,
    # so the ratio of the two partials is the amplitude ratio
    assert ours[130] / ours[61] == pytest.approx(0.5, rel=0.02)


def test_unit_sine_has_magnitude_one_half_at_its_bin():
    sr = SPEC.sample_rate
    t = np.arange(sr * 6) / sr
    f = SPEC.frequencies[90]
    mag = np.abs(cqt(np.sin(2 * np.pi * f * t), SPEC))[10:-10, 90]
    assert mag.mean() == pytest.approx(0.5, abs=0.005)


@pytest.mark.parametrize("cents", [-40, -15, 0, 22, 45])
def test_tuning_estimate(cents):
    sr = SPEC.sample_rate
    t = np.arange(sr * 4) / sr
    x = sum(np.sin(2 * np.pi * 440 * 2 ** ((m + cents / 100) / 12) * t) for m in (-12, -5, 0, 4, 7))
    est = estimate_tuning(np.abs(cqt(x, SPEC)), SPEC)
    assert est * 100 == pytest.approx(cents, abs=5)


@pytest.mark.parametrize("seed,tonic,minor", [(11, 0, False), (12, 7, False), (13, 9, True),
                                              (14, 3, True), (15, 6, False), (16, 1, True)])
def test_classic_key_on_synthetic_songs(seed, tonic, minor):
    song = make_song(seed=seed, tonic=tonic, minor=minor)
    mix = render_song(song, SR, seed=seed)["mixture"]
    est = estimate_key_classic(mix, SR)
    assert est.key == song.key
    assert est.key_signature == song.key_signature
    assert 0 < est.confidence <= 1


@pytest.mark.parametrize("name", ["Cmajor.mp3", "mozart_c_major_30sec.mp3"])
def test_classic_key_on_real_c_major_recordings(name):
    est = estimate_key(need(KEY_DIR / name))
    assert est.key == "C major"


def test_key_names_and_signatures():
    assert parse_key("F# minor") == (6, True)
    assert parse_key("Db Major") == (1, False)
    assert key_signature(9, True) == "C major/A minor" == KEY_SIGNATURES[0]
    assert key_signature(6, True) == "A major/F# minor"
    with pytest.raises(InputError):
        parse_key("H major")


def test_estimate_key_rejects_silence():
    with pytest.raises(AudioError, match="silence"):
        estimate_key(np.zeros(SR * 2), SR)


def test_key_clarity_flags_noise_but_not_music(song44):
    noise = np.random.default_rng(0).standard_normal(SR * 10).astype(np.float32)
    assert estimate_key(noise, SR).clarity < WEAK_CLARITY
    assert estimate_key(song44[1]["mixture"], SR).clarity > 0.8


def test_key_command_on_bad_inputs(cli, tmp_path, song_file):
    folder = tmp_path / "in"
    folder.mkdir()
    write_tone(folder / "tenth.wav", seconds=0.1)
    write_tone(folder / "one_second.wav", seconds=1.0, freq=261.63)
    sf.write(folder / "silence.wav", np.zeros(SR * 3), SR)
    sf.write(folder / "noise.wav", np.random.default_rng(1).standard_normal(SR * 5) * 0.1, SR)
    (folder / "notes.wav").write_text("not audio")
    res = cli("key", folder, str(song_file), "--format", "csv")
    assert res.code == 1 and "Traceback" not in res.err
    assert "3 of 6 files failed" in res.err
    assert "tenth.wav: too short (0.10 s)" in res.err
    assert "silence.wav: digital silence" in res.err
    assert "notes.wav: not an audio file" in res.err
    assert "noise.wav: little tonal evidence" in res.err
    rows = res.out.splitlines()
    assert len(rows) == 4 and any(r.startswith(str(song_file)) for r in rows)
    single = cli("key", folder / "tenth.wav")
    assert single.code == 3 and single.err.count("\n") == 1
