"""``analyze --demix`` with the All-In-One network in bounded memory: the separated chunks turn
into log-spectrogram frames as they stream out of the separator (the stems are never held
whole), equal to the one-pass spectrogram of the whole stems; training caches stems demixed
exactly as ``analyze --demix`` demixes them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
import torch

from songscope.audio.signal import decode
from songscope.conventions import STEMS
from songscope.models import load_engine
from songscope.models.container import Checkpoint, save_checkpoint
from songscope.pipeline import Engines, analyze_audio
from songscope.separation.api import CollectedStems, load_separator, separate_into
from songscope.structure.allinone.config import AllInOneConfig
from songscope.structure.allinone.dataset import SpectrogramCache, StructureTrack
from songscope.structure.allinone.frontend import log_spectrogram
from songscope.structure.allinone.model import AllInOne
from songscope.structure.allinone.stream import MonoStems, SpectrogramSink, feature_key

SR = 44100
CFG = AllInOneConfig()


def _one_pass(sources: dict[str, np.ndarray], rate: int) -> np.ndarray:
    mono = MonoStems(rate, CFG.sample_rate).mono(sources, last=True)
    return log_spectrogram(torch.from_numpy(mono), CFG).numpy()


def _streamed(sources: dict[str, np.ndarray], rate: int, chunk: int) -> np.ndarray:
    sink = SpectrogramSink(CFG, rate)
    length = next(iter(sources.values())).shape[-1]
    for start in range(0, length, chunk):
        sink.push({s: v[:, start:start + chunk] for s, v in sources.items()})
    stems = sink.finish()
    assert stems.sources == {}  # only the spectrograms are kept
    return stems.features[feature_key(CFG)]


@pytest.mark.parametrize("chunk", [100, 441, 2048, 3001, 10 ** 6])
def test_streamed_spectrogram_equals_the_one_pass_one(chunk):
    rng = np.random.default_rng(chunk)
    length = 2 * SR + 123  # not a whole number of hops: the last frames read zeros past the end
    sources = {s: (0.1 * rng.standard_normal((2, length))).astype(np.float32) for s in STEMS}
    whole = _one_pass(sources, SR)
    streamed = _streamed(sources, SR, chunk)
    assert streamed.shape == whole.shape == (4, -(-length // CFG.hop_size), 81)
    np.testing.assert_allclose(streamed, whole, atol=1e-6)


def test_streamed_spectrogram_of_stems_at_another_rate_resamples_as_the_stream_goes():
    rng = np.random.default_rng(3)
    sources = {s: (0.1 * rng.standard_normal((1, 22050 + 77))).astype(np.float32) for s in STEMS}
    np.testing.assert_allclose(_streamed(sources, 22050, 1500), _one_pass(sources, 22050), atol=1e-5)


def _song(path, seconds: float = 3.0):
    """A stereo mixture with a bass line, a kick every half second and a noisy hat (seeded)."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(0)
    kick = np.sin(2 * np.pi * 60 * t) * np.exp(-30 * (t % 0.5))
    hat = 0.05 * rng.standard_normal(len(t)) * np.exp(-80 * ((t + 0.25) % 0.5))
    bass = 0.2 * np.sin(2 * np.pi * 110 * t) + 0.1 * np.sin(2 * np.pi * 330 * t)
    sf.write(path, np.stack([kick + hat + bass, 0.8 * kick + hat + bass]).T.astype(np.float32) * 0.5, SR)
    return path


def test_analyze_demix_feeds_the_network_streamed_spectrograms(tmp_path):
    torch.manual_seed(0)
    model = AllInOne(AllInOneConfig(depth=1, double_attention=False)).eval()
    path = save_checkpoint(Checkpoint("allinone", model.cfg.to_dict(), model.state_dict()), tmp_path / "m.pt")
    engine = load_engine("structure", str(path), "cpu")
    separator = replace(load_separator("classic"), window=SR)  # 1-s windows: the stems come in many chunks
    audio = decode(_song(tmp_path / "song.wav"), [*engine.views, *separator.views])
    mixture = audio.get(separator.sample_rate, separator.channels)

    streamed = separate_into(mixture, separator, engine.stem_sink(separator.sample_rate, separator.name))
    collected = separate_into(mixture, separator, CollectedStems(separator.sample_rate, separator.name))
    assert streamed.sources == {} and set(collected.sources) == set(STEMS)
    np.testing.assert_allclose(streamed.features[feature_key(CFG)], _one_pass(collected.sources, SR), atol=1e-6)

    _, through_analyze = analyze_audio(audio, Engines(engine, None, separator))
    whole = engine.predict(audio.with_stems(collected))
    for name in ("beat", "downbeat", "segment", "label"):
        np.testing.assert_allclose(through_analyze.activations[name], whole.activations[name], atol=1e-5)
    assert through_analyze.embeddings.shape == (4, -(-mixture.shape[-1] // 441), 24)


def test_training_caches_the_stems_analyze_demix_gives(tmp_path):
    song = _song(tmp_path / "song.wav")
    track = StructureTrack("song", song, None, np.arange(0.0, 3.0, 0.5), np.arange(0.0, 3.0, 2.0), None, None)
    cache = SpectrogramCache(tmp_path / "cache", CFG, "classic")
    cached = np.asarray(cache.spectrogram(track), dtype=np.float32)
    separator = load_separator("classic")
    engine_sink = SpectrogramSink(CFG, separator.sample_rate)
    audio = decode(song, separator.views)
    analyzed = separate_into(audio.get(separator.sample_rate, separator.channels), separator, engine_sink)
    reference = analyzed.features[feature_key(CFG)]
    assert cached.shape == reference.shape
    np.testing.assert_allclose(cached, reference, atol=2e-3 * max(1.0, float(np.abs(reference).max())))  # float16
    files = sorted(p.name for p in (tmp_path / "cache").iterdir())
    stamp = [(tmp_path / "cache" / f).stat().st_mtime_ns for f in files]
    cache.spectrogram(track)  # demixed once per track: the second call reads the cache
    assert [(tmp_path / "cache" / f).stat().st_mtime_ns for f in files] == stamp
