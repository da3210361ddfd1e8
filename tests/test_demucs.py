"""Demucs as an optional separation engine (extra ``demucs``).

A tiny randomly initialised HTDemucs is built here and published the way Demucs 4.1 downloads
its pretrained bags (a Hugging Face cache holding ``adefossez/HTDemucs``: ``htdemucs.yaml`` and
one ``.safetensors`` file with the class and arguments in its metadata). With the hub offline,
``-m htdemucs`` then runs the real loading path, songscope's streaming, resampling and writing.
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction

import numpy as np
import pytest
import soundfile as sf

from songscope.cli import main
from songscope.errors import ConfigError
from songscope.models.registry import load_engine
from songscope.separation.api import load_separator, separate_audio

TINY = dict(sources=["drums", "bass", "other", "vocals"], audio_channels=2, channels=4, depth=2, nfft=256,
            t_layers=1, t_heads=2, dconv_mode=0, t_hidden_scale=1.0, samplerate=44100)
SEGMENT = Fraction(1, 4)


def _demucs():
    pytest.importorskip("demucs", reason="demucs is not installed (pip install 'songscope[demucs]')")
    for module in ("huggingface_hub", "safetensors", "yaml"):
        pytest.importorskip(module, reason=f"{module} is not installed (pip install 'songscope[demucs]')")


def _use_cache(monkeypatch, cache):
    """Point the Hugging Face hub at ``cache`` and keep it offline (also when already imported)."""
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("SONGSCOPE_OFFLINE", "1")
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    load_separator.cache_clear()


@pytest.fixture()
def tiny_htdemucs(tmp_path, monkeypatch):
    """The tiny model, published as ``htdemucs`` in an offline Hugging Face cache."""
    _demucs()
    import torch
    from demucs.htdemucs import HTDemucs
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = HTDemucs(segment=SEGMENT, **TINY).eval()
    repo = tmp_path / "hub" / "models--adefossez--HTDemucs"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    kwargs = dict(TINY, segment={"_type": "fraction", "numerator": SEGMENT.numerator,
                                 "denominator": SEGMENT.denominator})
    save_file({k: v.contiguous().clone() for k, v in model.state_dict().items()}, snapshot / "tiny0001.safetensors",
              metadata={"klass": "demucs.htdemucs.HTDemucs", "args": "[]", "kwargs": json.dumps(kwargs)})
    (snapshot / "htdemucs.yaml").write_text("models: ['tiny0001']\n")
    _use_cache(monkeypatch, tmp_path / "hub")
    yield model
    load_separator.cache_clear()


def test_one_window_equals_demucs_apply_model(tiny_htdemucs):
    import torch
    from demucs.apply import apply_model

    window = int(SEGMENT * 44100)
    mixture = (0.3 * np.random.default_rng(1).standard_normal((2, window))).astype(np.float32)
    stems = separate_audio(mixture, 44100, model="htdemucs", device="cpu")
    assert list(stems) == ["bass", "drums", "other", "vocals"]
    with torch.no_grad():
        reference = apply_model(tiny_htdemucs, torch.from_numpy(mixture)[None], shifts=0, split=False)[0].numpy()
    for i, stem in enumerate(TINY["sources"]):
        assert np.max(np.abs(stems[stem] - reference[i])) < 1e-5, stem
    assert np.max(np.abs(reference)) > 1e-3


def test_separate_command_streams_resamples_and_writes(tiny_htdemucs, tmp_path):
    seconds, rate = 2.0, 22050
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.random.default_rng(2).standard_normal(t.size)
    sf.write(tmp_path / "mono.wav", wave.astype(np.float32), rate)
    assert main(["separate", str(tmp_path / "mono.wav"), "-m", "htdemucs", "-o", str(tmp_path / "out"),
                 "--device", "cpu"]) == 0
    written = sorted(p.name for p in (tmp_path / "out" / "mono").iterdir())
    assert written == ["bass.wav", "drums.wav", "other.wav", "vocals.wav"]
    for name in written:
        info = sf.info(tmp_path / "out" / "mono" / name)
        assert info.samplerate == 44100 and info.channels == 2
        assert abs(info.frames - seconds * 44100) <= 2  # 0.25 s windows cross-faded, exact length


def test_missing_weights_are_one_clear_line(tmp_path, monkeypatch, capsys):
    _demucs()
    _use_cache(monkeypatch, tmp_path / "empty-hub")
    sf.write(tmp_path / "a.wav", np.zeros(44100, np.float32) + 0.1, 44100)
    assert main(["separate", str(tmp_path / "a.wav"), "-m", "htdemucs_ft", "-o", str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "adefossez/HTDemucs-ft" in err[0] and "htdemucs_ft.yaml" in err[0], err


def test_without_the_package_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "demucs", None)  # import demucs now fails, as when not installed
    with pytest.raises(ConfigError, match=r"needs demucs: pip install 'songscope\[demucs\]'"):
        load_engine("separation", "htdemucs", "cpu")


def test_analyze_demix_runs_demucs_and_keeps_its_stems(tiny_htdemucs, tmp_path):
    rate = 22050
    t = np.arange(8 * rate) / rate
    clicks = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.mod(t, 0.5) < 0.1)
    sf.write(tmp_path / "song.wav", clicks.astype(np.float32), rate)
    assert main(["analyze", str(tmp_path / "song.wav"), "--demix", "htdemucs", "--keep-byproducts", "--no-multiprocess",
                 "--demix-dir", str(tmp_path / "demix"), "-o", str(tmp_path / "out"), "--device", "cpu"]) == 0
    assert (tmp_path / "out" / "song.json").is_file()
    for stem in ("bass", "drums", "other", "vocals"):
        info = sf.info(tmp_path / "demix" / "song" / f"{stem}.wav")
        assert info.samplerate == 44100 and abs(info.frames - 8 * 44100) <= 2
