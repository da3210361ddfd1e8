"""Band-Split RNN against the public implementation (github.com/amanteur/BandSplitRNN-PyTorch).

How the fixtures in ``tests/fixtures/bsrnn_public/`` were made (nothing of that code is in this
repository): in a throwaway folder outside it, the public ``src/model`` package (``bandsplitrnn.py``,
``modules/{bandsplit,bandsequence,maskestimation,utils}.py``, ``pl_model.py``) was written out as
read, with pytorch_lightning 1.9.5 and omegaconf installed. A script built ``BandSplitRNN(**cfg.model)``
after ``pl.seed_everything(42)`` from a small Hydra-style config (target ``bass``, n_fft 128, hop 32,
8 frames, bands [[2000, 500], [8000, 2000], [20000, 4000]], ``is_mono: ${..train_dataset.is_mono}``),
wrapped it in their ``PLModel`` with Adam + StepLR, ran ``pl.Trainer(max_epochs=1)`` on two random
batches with a ``CSVLogger`` (torchaudio does not load against the installed torch, so the featurizer
was a stand-in making the same ``torch.stft`` call, Hann window buffer, centred, reflect padding).
Kept: the ``ModelCheckpoint`` file ``checkpoints/epoch=0-step=2.ckpt`` (Lightning's own layout:
state_dict, loops, callbacks, optimizer_states, lr_schedulers, ``hyper_parameters`` as a pickled
OmegaConf ``DictConfig``), the logger's ``hparams.yaml``, and ``reference.npz``: seeded waveforms
(``wave``), their spectrograms (``spec``), the public model's output spectrograms (``out_spec``,
eval mode) and their inverse STFT (``out_wave``). ``band_edges.npz``: the public ``freq2bands`` of
the bandsplits of ``conf/model/bandsplitrnn{V7,bass,drums}.yaml`` at several (sample rate, n_fft).
``tools/bsrnn_public_fixtures.py`` is that script (it rebuilds the files byte for byte in arrays).
"""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
yaml = pytest.importorskip("yaml")

from songscope.errors import CheckpointError  # noqa: E402
from songscope.models.container import safe_load  # noqa: E402
from songscope.models.converters.bsrnn_lightning import bsrnn_config_from_hparams, resolve_interpolations  # noqa: E402
from songscope.separation.bands import LAYOUTS, band_edges  # noqa: E402
from songscope.separation.model import load_separation_model  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "bsrnn_public"
CKPT = FIXTURES / "checkpoints" / "epoch=0-step=2.ckpt"


def _assert_matches_public(model):
    ref = np.load(FIXTURES / "reference.npz")
    with torch.no_grad():
        out_spec = model.net(torch.from_numpy(ref["spec"]))[:, 0].numpy()
        out_wave = model(torch.from_numpy(ref["wave"]))[:, 0].numpy()
    assert np.max(np.abs(out_spec - ref["out_spec"])) < 1e-5
    assert np.max(np.abs(out_wave - ref["out_wave"])) < 1e-5
    assert np.max(np.abs(ref["out_spec"])) > 0.1  # a real signal, not zeros matching zeros


def test_public_lightning_checkpoint_reproduces_the_public_outputs():
    model = load_separation_model(CKPT)
    assert model.targets == ("bass",) and model.channels == 2 and model.config.hop == 32
    assert model.required_window() == 7 * 32
    with torch.no_grad():
        spec = model.stft(torch.from_numpy(np.load(FIXTURES / "reference.npz")["wave"])).numpy()
    assert np.max(np.abs(spec - np.load(FIXTURES / "reference.npz")["spec"])) < 1e-6
    _assert_matches_public(model)


def test_the_checkpoint_alone_carries_its_settings(tmp_path):
    """Without hparams.yaml the pickled DictConfig is read as data; its interpolation is resolved."""
    alone = tmp_path / "model.ckpt"
    shutil.copy(CKPT, alone)
    payload = safe_load(alone)
    hparams = payload["hyper_parameters"]
    assert hparams["model"]["is_mono"] == "${..train_dataset.is_mono}"
    assert resolve_interpolations(hparams)["model"]["is_mono"] is False
    assert payload["hparams_type"] == "omegaconf.dictconfig.DictConfig"
    assert payload["epoch"] == 0 and payload["global_step"] == 2 and len(payload["optimizer_states"]) == 1
    _assert_matches_public(load_separation_model(alone))


def test_config_objects_with_anything_else_are_still_refused(tmp_path, monkeypatch):
    class Node:
        pass

    Node.__module__, Node.__qualname__ = "omegaconf.nodes", "Node"
    package, module = types.ModuleType("omegaconf"), types.ModuleType("omegaconf.nodes")
    module.Node, package.nodes = Node, module
    monkeypatch.setitem(sys.modules, "omegaconf", package)
    monkeypatch.setitem(sys.modules, "omegaconf.nodes", module)
    torch.save({"hyper_parameters": Node(), "hook": shutil.rmtree, "state_dict": {}}, tmp_path / "bad.ckpt")
    with pytest.raises(CheckpointError, match="refused: it would call"):
        safe_load(tmp_path / "bad.ckpt")
    torch.save({"hyper_parameters": Node(), "state_dict": {}}, tmp_path / "config_only.ckpt")
    assert safe_load(tmp_path / "config_only.ckpt")["hyper_parameters"] is None


def test_band_edges_match_the_public_freq2bands():
    ref = np.load(FIXTURES / "band_edges.npz")
    assert len(ref.files) == 12
    for key in ref.files:
        name, sr, n_fft = key.split("_")
        np.testing.assert_array_equal(np.array(band_edges(LAYOUTS[name], int(sr), int(n_fft))), ref[key], key)


def _hparams() -> dict:
    return yaml.safe_load((FIXTURES / "hparams.yaml").read_text())


def test_hparams_map_to_the_model_settings():
    config = bsrnn_config_from_hparams(_hparams())
    assert config["targets"] == ["bass"] and config["channels"] == 2 and config["chunk_frames"] == 8
    assert config["hop"] == 32 and config["norm_groups"] == config["fc_dim"] == 6


@pytest.mark.parametrize("change, message", [
    (lambda h: h["model"].update(return_mask=True), "return_mask"),
    (lambda h: h["featurizer"]["direct_transform"].update(win_length=64), "win_length"),
    (lambda h: h["model"].update(is_mono="${oc.env:MONO}"), "is_mono must be true or false"),
    (lambda h: h["train_dataset"].pop("target"), "no target stem"),
])
def test_settings_songscope_cannot_honour_are_refused(change, message):
    hparams = _hparams()
    change(hparams)
    with pytest.raises(CheckpointError, match=message):
        bsrnn_config_from_hparams(hparams)


def test_interpolations_resolve_as_omegaconf_does():
    config = {"a": {"b": 1, "c": "${.b}", "d": {"e": "${..b}"}}, "f": "${a.c}", "g": "${oc.env:X}", "h": "${no.such}"}
    resolved = resolve_interpolations(config)
    assert resolved["a"]["c"] == 1 and resolved["a"]["d"]["e"] == 1 and resolved["f"] == 1
    assert resolved["g"] == "${oc.env:X}" and resolved["h"] == "${no.such}"
