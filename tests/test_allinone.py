"""The All-In-One structure family: the network against allin1's own, the checkpoint converter,
the post-processing on activations with known answers, the engine through ``songscope analyze``
and the catalogued names offline.

``fixtures/allinone/allin1_postprocessing.json`` holds what allin1 1.1.0's own post-processing
(``postprocessing/metrical.py`` with madmom 0.16.1's ``DBNDownBeatTrackingProcessor``,
``functional.py``, ``tempo.py``; unmodified, run outside this repository) finds in the logits of
:func:`synthetic_logits` with ``best_threshold_downbeat`` 0.24.

``fixtures/allinone/allin1_outputs.npz``, ``allin1_config.json`` and ``allin1_state_shapes.json``
were made outside this repository by running allin1 1.1.0's own ``AllInOne`` (its
``models/allinone.py`` and ``models/dinat.py``, unmodified; NATTEN, which does not install there,
replaced by a Python transcription of NATTEN's naive CPU kernels) with the config of the JSON file
(allin1's defaults, depth 7), the state dict of :func:`random_state` and the input of
:func:`spectrograms`, in float64 and in float32; the JSON files are ``OmegaConf.to_container`` of
that config and the names and shapes of allin1's state dict.
"""

from __future__ import annotations

import json
import sys
import types
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from songscope.audio.signal import Audio
from songscope.beats.dbn import DBNConfig
from songscope.beats.tempo import bpm_mode
from songscope.conventions import HARMONIX_LABELS, STEMS
from songscope.errors import CheckpointError
from songscope.models import CATALOG, load_engine
from songscope.models.catalog import UNAVAILABLE
from songscope.models.container import Checkpoint, save_checkpoint
from songscope.models.converters import read_checkpoint
from songscope.result import Stems
from songscope.structure.allinone import model as model_module
from songscope.structure.allinone.config import AllInOneConfig
from songscope.structure.allinone.family import ALLIN1_DBN, activations_from_logits, structure_from_activations
from songscope.structure.allinone.model import AllInOne
from songscope.structure.allinone.postprocess import beats_from_activations, boundary_frames, label_segments

FIXTURES = Path(__file__).parent / "fixtures" / "allinone"


def random_state(shapes: dict[str, tuple[int, ...]], seed: int = 1234) -> dict[str, np.ndarray]:
    """Seeded float64 weights by sorted name: N(0, 0.3), LayerNorm weights 1 + N(0, 0.1)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in sorted(shapes):
        noise = rng.standard_normal(shapes[name])
        out[name] = 1.0 + 0.1 * noise if "norm" in name and name.endswith(".weight") else 0.3 * noise
    return out


def spectrograms(frames: int = 300, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).random((1, 4, frames, 81)) * 1.5


def allin1_config() -> dict:
    return json.loads((FIXTURES / "allin1_config.json").read_text())


def allin1_shapes() -> dict[str, tuple[int, ...]]:
    return {k: tuple(v) for k, v in json.loads((FIXTURES / "allin1_state_shapes.json").read_text()).items()}


@pytest.mark.parametrize("dtype,tolerance", [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_network_reproduces_allin1(dtype, tolerance):
    ref = np.load(FIXTURES / "allin1_outputs.npz")
    tag = "f64" if dtype == torch.float64 else "f32"
    net = AllInOne(AllInOneConfig.from_dict(allin1_config())).to(dtype).eval()
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == allin1_shapes()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in random_state(allin1_shapes()).items()})
    with torch.no_grad():
        out = net(torch.from_numpy(spectrograms()).to(dtype))
    for ours, theirs in (("beat", "logits_beat"), ("downbeat", "logits_downbeat"), ("section", "logits_section"),
                         ("function", "logits_function"), ("embeddings", "embeddings")):
        got = getattr(out, ours)[0].numpy()
        assert got.shape == ref[f"{tag}_{theirs}"].shape
        np.testing.assert_allclose(got, ref[f"{tag}_{theirs}"], rtol=0, atol=tolerance, err_msg=ours)


def test_frame_embeddings_in_pieces_equal_one_pass(monkeypatch):
    net = AllInOne(AllInOneConfig(depth=1)).eval()
    x = torch.rand(4, 1, 50, 81)
    with torch.no_grad():
        whole = net.embeddings(x)
        monkeypatch.setattr(model_module, "_EMBED_CHUNK", 7)
        np.testing.assert_allclose(net.embeddings(x).numpy(), whole.numpy(), rtol=0, atol=1e-6)


def _allin1_file(path: Path) -> Path:
    state = {k: torch.from_numpy(v).float() for k, v in random_state(allin1_shapes()).items()}
    torch.save({"config": allin1_config(), "state_dict": state}, path)
    return path


def test_converter_reads_allin1_files_safely(tmp_path):
    checkpoint = read_checkpoint(_allin1_file(tmp_path / "harmonix-foldX.pth"))
    assert checkpoint.family == "allinone" and checkpoint.songscope_version is None
    assert checkpoint.config["depth"] == 7 and checkpoint.config["num_instruments"] == 4
    assert checkpoint.metadata["allin1_config"]["data"]["name"] == "harmonix"
    assert set(checkpoint.state_dict) == set(allin1_shapes())
    engine = load_engine("structure", str(tmp_path / "harmonix-foldX.pth"), "cpu")
    assert engine.family == "allinone" and engine.uses_stems and engine.dbn.threshold == 0.0


def test_an_omegaconf_pickle_is_refused_with_the_way_out(tmp_path, monkeypatch):
    class DictConfig(dict):
        pass

    DictConfig.__module__, DictConfig.__qualname__ = "omegaconf.dictconfig", "DictConfig"
    package, module = types.ModuleType("omegaconf"), types.ModuleType("omegaconf.dictconfig")
    module.DictConfig, package.dictconfig = DictConfig, module
    monkeypatch.setitem(sys.modules, "omegaconf", package)
    monkeypatch.setitem(sys.modules, "omegaconf.dictconfig", module)
    torch.save({"config": DictConfig(depth=1), "state_dict": {}}, tmp_path / "pickled.pth")
    with pytest.raises(CheckpointError, match="omegaconf.dictconfig.DictConfig.*OmegaConf.to_container"):
        read_checkpoint(tmp_path / "pickled.pth")


def test_click_train_activations_decode_to_the_clicks():
    frames, period = 2000, 50  # 120 BPM at 100 fps, a downbeat every fourth beat
    beat, downbeat = np.full(frames, 0.01, np.float32), np.full(frames, 0.005, np.float32)
    beat[100::period] = 0.95
    downbeat[100::4 * period] = 0.9
    result = beats_from_activations(beat, downbeat, DBNConfig(beats_per_bar=(3, 4), max_bpm=205.0))
    np.testing.assert_allclose(result.beats, np.arange(100, frames, period) / 100.0)
    assert result.beats_per_bar == 4 and result.bpm == 120.0
    assert result.positions.tolist() == [1 + i % 4 for i in range(len(result.beats))]
    assert result.activations.shape == (frames, 2)


def test_boundaries_are_the_clear_peaks_and_labels_the_mean_argmax():
    frames, peaks = 6000, (1000, 2000, 3000, 4000, 5000)  # every frame within 12 s of a peak
    segment = np.full(frames, 0.02, np.float32)
    for peak in peaks:
        segment[peak - 3:peak + 4] = [0.1, 0.3, 0.6, 0.9, 0.6, 0.3, 0.1]
    segment[3500] = 0.05  # a small bump: a local maximum, not a boundary
    boundaries = boundary_frames(segment, 24, 100.0)
    assert boundaries.tolist() == list(peaks)
    names = ("intro", "verse", "chorus", "verse", "chorus", "outro")
    label = np.full((10, frames), 0.05, np.float32)
    for lo, hi, name in zip((0, *peaks), (*peaks, frames), names):
        label[HARMONIX_LABELS.index(name), lo:hi] = 0.6
    label[HARMONIX_LABELS.index("solo"), 1000:1200] = 0.9  # a short excursion does not win the mean
    segments = label_segments(boundaries, label, 100.0)
    assert [(s.start, s.end, s.label) for s in segments] == [
        (lo / 100, hi / 100, name) for lo, hi, name in zip((0, *peaks), (*peaks, frames), names)]


def synthetic_logits(seed: int) -> list[np.ndarray]:
    """(beat, downbeat, section (T,), function (10, T)) float32 logits: noisy beats every
    ``40 + 7 * seed`` frames, a downbeat every fourth, boundary bumps and label blocks."""
    rng = np.random.default_rng(seed)
    frames = 6000 + 500 * seed
    period = 40 + 7 * seed
    t = np.arange(frames)
    phase = (t - 30) % period
    beat = -4.0 + 7.0 * np.exp(-0.5 * (np.minimum(phase, period - phase) / 2.0) ** 2) + 0.8 * rng.standard_normal(frames)
    bar = (t - 30) % (4 * period)
    downbeat = (-5.0 + 7.0 * np.exp(-0.5 * (np.minimum(bar, 4 * period - bar) / 2.0) ** 2)
                + 0.8 * rng.standard_normal(frames))
    section = -6.0 + 0.7 * rng.standard_normal(frames)
    cuts = np.sort(rng.choice(np.arange(300, frames - 300), size=5 + seed, replace=False))
    for c in cuts:
        section += 6.0 * np.exp(-0.5 * ((t - c) / 4.0) ** 2)
    function = 0.5 * rng.standard_normal((10, frames))
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, frames]):
        function[rng.integers(10), lo:hi] += 2.0
    return [np.asarray(a, dtype=np.float32) for a in (beat, downbeat, section, function)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_post_processing_equals_allin1s(seed):
    expected = json.loads((FIXTURES / "allin1_postprocessing.json").read_text())[str(seed)]
    activations = activations_from_logits(*(torch.from_numpy(a) for a in synthetic_logits(seed)))
    result = structure_from_activations(activations, replace(ALLIN1_DBN, threshold=0.24), AllInOneConfig())
    np.testing.assert_allclose(result.beats.beats, expected["beats"], atol=1e-9)
    assert result.beats.positions.tolist() == expected["beat_positions"]
    assert result.beats.bpm == expected["bpm"]
    assert [[s.start, s.end, s.label] for s in result.segments] == expected["segments"]


def test_bpm_is_allin1s_most_common_rounded_tempo():
    assert bpm_mode([0.0, 0.5, 1.0, 1.5, 2.1, 2.6]) == 120.0
    assert bpm_mode([1.0]) is None


def _tiny_model(path: Path, seed: int) -> Path:
    cfg = AllInOneConfig(depth=2, best_threshold_downbeat=0.1 * seed)
    torch.manual_seed(seed)
    return save_checkpoint(Checkpoint("allinone", cfg.to_dict(), AllInOne(cfg).state_dict()), path)


def test_ensembles_average_logits_and_stack_embeddings(tmp_path):
    a, b = _tiny_model(tmp_path / "a.pt", 1), _tiny_model(tmp_path / "b.pt", 2)
    rng = np.random.default_rng(0)
    stems = Stems({s: 0.1 * rng.standard_normal((2, 22050 * 3)).astype(np.float32) for s in STEMS}, 22050, "test")
    audio = Audio.from_array(sum(stems.sources.values()), 22050).with_stems(stems)
    both = load_engine("structure", f"{a},{b}", "cpu")
    assert len(both.models) == 2 and both.dbn.threshold == pytest.approx(0.15)
    result = both.predict(audio)
    assert result.embeddings.shape == (4, 300, 24, 2)
    singles = [load_engine("structure", str(p), "cpu").predict(audio) for p in (a, b)]
    np.testing.assert_allclose(result.embeddings[..., 1], singles[1].embeddings, atol=1e-6)
    logit = np.mean([np.log(r.activations["beat"] / (1 - r.activations["beat"])) for r in singles], axis=0)
    np.testing.assert_allclose(result.activations["beat"], 1 / (1 + np.exp(-logit)), atol=1e-5)


def test_analyze_writes_allin1s_activations_and_embeddings(cli, short_song_file, tmp_path):
    model = _tiny_model(tmp_path / "model.pt", 3)
    res = cli("analyze", short_song_file, "-m", model, "-a", "-e", "-o", tmp_path / "res", "--demix", "classic", "-q")
    assert res.code == 0, res.err
    frames = -(-sf.info(short_song_file).frames * 2 // 441)  # 22.05 kHz file read at 44.1 kHz, 441-sample hops
    activ = np.load(tmp_path / "res" / "song.activ.npz")
    assert {k: activ[k].shape for k in activ.files} == {"beat": (frames,), "downbeat": (frames,),
                                                        "segment": (frames,), "label": (10, frames)}
    np.testing.assert_allclose(activ["label"].sum(axis=0), 1.0, atol=1e-5)
    assert np.load(tmp_path / "res" / "song.embed.npy").shape == (4, frames, 24)
    result = json.loads((tmp_path / "res" / "song.json").read_text())
    assert result["engine"] == str(model) and result["segments"][-1]["end"] == pytest.approx(frames / 100)


def test_catalogued_names_offline_name_the_missing_checkpoint(cli, short_song_file, tmp_path, monkeypatch):
    monkeypatch.setenv("SONGSCOPE_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SONGSCOPE_MODEL_DIR", raising=False)
    assert not UNAVAILABLE and CATALOG["harmonix-all"].parts[-1] == "harmonix-fold7"
    for name in ("harmonix-fold0", "harmonix-all"):
        res = cli("analyze", short_song_file, "-m", name, "-o", tmp_path / "out")
        lines = res.err.strip().splitlines()
        assert res.code != 0 and len(lines) == 1, res.err
        assert "'harmonix-fold0'" in lines[0] and "harmonix-fold0-0vra4ys2.pth" in lines[0]
        assert "not found" in lines[0] and "offline" in lines[0]
    listing = cli("models")
    assert "-m harmonix-all (allinone)" in listing.out and "-m harmonix-fold7 (allinone)" in listing.out
