"""Auralflow's three mask networks against the official package, and its model files through the converter.

How the fixture was made (tests/fixtures/auralflow/): in a throwaway venv outside the repository,
``pip install --no-deps --ignore-requires-python auralflow==0.1.0`` (PyPI) with CPU torch 2.13,
librosa and fast-bss-eval; torchaudio's CPU wheel was not installable there (PyPI's is a CUDA
build), so the three torchaudio transforms auralflow imports were a shim with torchaudio's
semantics (torch.stft / istft, periodic Hann of ``win_length``, centred reflect padding). A
script then

1. built auralflow's own training wrapper (``create_model`` + ``setup_model``) from a tiny
   configuration (SpectrogramNetSimple, 1 hidden channel, n_fft 126, hop 32, 1 s at 2 kHz, input and
   output normalisation); ``setup_model`` wrote ``training_template.json`` (kept here as written);
   loaded :func:`_seeded_state` (seed 0) into its network, saved it with the wrapper's
   ``save_model`` (``tiny_vocals_0.pth``, 1 MB: not kept; the test writes the same weights
   again) and ran ``separate`` on 2000 random samples (seed 1234): ``simple_audio``, ``simple_mask``
   (the wrapper's mask), ``simple_wave`` (its output);
2. built SpectrogramNetSimple, SpectrogramNetLSTM, SpectrogramNetVAE (and the LSTM with
   ``input_axis=1``) directly: 64 bins x 128 frames, mono, 1 hidden channel, ReLU masks, leak
   0.1, both normalisations, LSTM depth 2 of 16 units; loaded :func:`_seeded_state` (seed 1), set
   eval mode and ``torch.manual_seed(7)`` and ran a (2, 1, 64, 128) magnitude (``magnitude``):
   ``<name>_net_mask``, ``<name>_nparams``; for the VAE also the eps it drew (``vae_eps`` =
   (z - mu) / sigma) and its ``get_kl_div()`` (``vae_kl``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from songscope.errors import CheckpointError  # noqa: E402
from songscope.models.converters import read_checkpoint  # noqa: E402
from songscope.separation.auralflow import (AuralflowConfig, AuralflowLSTM, AuralflowSimple,  # noqa: E402
                                            AuralflowVAE, auralflow_frames)
from songscope.separation.model import build_model, load_separation_model  # noqa: E402
from songscope.separation.training import separation_loss  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "auralflow"
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def reference():
    return dict(np.load(FIXTURES / "reference.npz"))


def _seeded_state(module: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """The weights both sides load: keys in sorted order; floats N(0, 1) / sqrt(fan_in) from
    numpy's default_rng(seed); running variances uniform(0.5, 1.5); integer buffers kept."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, value in sorted(module.state_dict().items()):
        if not value.is_floating_point():
            state[key] = value.clone()
        elif key.endswith("running_var"):
            state[key] = torch.from_numpy(rng.uniform(0.5, 1.5, value.shape).astype(np.float32))
        else:
            fan_in = int(np.prod(value.shape[1:])) if value.dim() > 1 else 1
            state[key] = torch.from_numpy((rng.standard_normal(value.shape) / np.sqrt(fan_in)).astype(np.float32))
    return state


NETWORKS = {"simple": (AuralflowSimple, {}), "lstm": (AuralflowLSTM, {}), "vae": (AuralflowVAE, {}),
            "lstm_axis1": (AuralflowLSTM, {"input_axis": 1})}


def _network(name: str) -> torch.nn.Module:
    cls, extra = NETWORKS[name]
    config = AuralflowConfig(n_fft=126, window=126, hop=32, chunk_frames=128, hidden=1, mask_activation="relu",
                             leak=0.1, dropout=0.4, normalize_input=True, normalize_output=True, recurrent_depth=2,
                             hidden_size=16, latent_sampling="always", **extra)
    net = cls(config).eval()
    net.load_state_dict(_seeded_state(net, 1))  # strict: the parameter names are Auralflow's
    return net


@pytest.mark.parametrize("name", list(NETWORKS))
def test_masks_equal_the_official_networks(reference, name):
    net = _network(name)
    if name == "vae":
        net.noise = torch.from_numpy(reference["vae_eps"])
    with torch.no_grad():
        mask = net.masks(torch.from_numpy(reference["magnitude"]))
    assert np.max(np.abs(mask.numpy() - reference[f"{name}_net_mask"])) < TOLERANCE
    assert sum(p.numel() for p in net.parameters()) == int(reference[f"{name}_nparams"])
    if name == "vae":
        assert float(net.kl) == pytest.approx(float(reference["vae_kl"]), rel=1e-5)


def test_vae_uses_the_mean_at_inference_unless_asked_to_sample(reference):
    net = _network("vae")
    mag = torch.from_numpy(reference["magnitude"])
    net.config.latent_sampling = "train"
    with torch.no_grad():
        first, second = net.masks(mag), net.masks(mag)
    assert torch.equal(first, second)
    net.config.latent_sampling = "always"
    with torch.no_grad():
        assert not torch.equal(net.masks(mag), first)


def _official_folder(tmp_path: Path, state: dict | None = None, **changes) -> Path:
    """Auralflow's checkpoint folder: its training_template.json (``changes`` merged into
    model_params / dataset_params) and ``tiny_vocals_0.pth`` with the seed-0 weights."""
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    data = json.loads((FIXTURES / "training_template.json").read_text())
    for section, values in changes.items():
        data[section].update(values)
    (folder / "training_template.json").write_text(json.dumps(data))
    if state is None:
        config = dict(targets=["vocals"], sample_rate=2000, n_fft=126, window=126, hop=32, channels=1,
                      chunk_frames=64, hidden=1, normalize_input=True, normalize_output=True)
        state = _seeded_state(build_model("auralflow-simple", config).net, 0)
    torch.save(state, folder / "tiny_vocals_0.pth")
    return folder / "tiny_vocals_0.pth"


def test_official_model_file_loads_and_separates_as_auralflow(reference, tmp_path):
    path = _official_folder(tmp_path)
    checkpoint = read_checkpoint(path)
    assert checkpoint.family == "auralflow-simple" and checkpoint.config["chunk_frames"] == 64
    assert checkpoint.metadata["auralflow_config"]["model_params"]["model_name"] == "tiny_vocals"
    model = load_separation_model(path)
    assert model.required_window() == 2016 == auralflow_frames(1, 2000, 32) * 32 - 32
    # Auralflow pads its 2000 samples with zeros to a whole hop before the STFT
    wave = torch.nn.functional.pad(torch.from_numpy(reference["simple_audio"]), (0, 16))
    with torch.no_grad():
        mask = model.net.masks(model.stft(wave).abs())
        out = model(wave)
    assert np.max(np.abs(mask.numpy() - reference["simple_mask"])) < TOLERANCE
    assert np.max(np.abs(out[:, 0].numpy() - reference["simple_wave"])) < TOLERANCE


def test_lstm_files_take_their_recurrent_sizes_from_the_weights(tmp_path):
    config = dict(targets=["vocals"], sample_rate=2000, n_fft=126, window=126, hop=32, channels=1, chunk_frames=64,
                  hidden=1, normalize_input=True, normalize_output=True, recurrent_depth=2, hidden_size=8)
    state = build_model("auralflow-vae", config).net.state_dict()
    path = _official_folder(tmp_path, state, model_params={"model_type": "SpectrogramNetVAE"})
    checkpoint = read_checkpoint(path)
    assert checkpoint.family == "auralflow-vae"
    assert (checkpoint.config["recurrent_depth"], checkpoint.config["hidden_size"]) == (2, 8)
    assert any("samples the VAE latent" in note for note in checkpoint.notes)
    assert load_separation_model(path).net.lstm.hidden_size == 8


@pytest.mark.parametrize("changes, message", [
    ({"model_params": {"model_type": "HybridNet"}}, "not one of"),
    ({"dataset_params": {"targets": ["vocals", "drums"]}}, "one target"),
    ({"dataset_params": {"num_fft": None}}, "bad setting"),
])
def test_the_converter_refuses_what_it_cannot_read(tmp_path, changes, message):
    path = _official_folder(tmp_path, **changes)
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(path)


def test_a_model_file_without_its_configuration_is_refused(tmp_path):
    path = _official_folder(tmp_path)
    shutil.move(path, tmp_path / "alone.pth")
    with pytest.raises(CheckpointError, match="training_template.json next to it"):
        read_checkpoint(tmp_path / "alone.pth")


def test_chunks_of_another_length_are_refused():
    net = _network("simple")
    with pytest.raises(ValueError, match="exactly 128 frames"):
        net.masks(torch.ones(1, 1, 64, 96))


def test_vae_kl_enters_the_training_loss():
    model = build_model("auralflow-vae", dict(n_fft=126, window=126, hop=32, chunk_frames=64, hidden=1,
                                              recurrent_depth=2, hidden_size=8)).train()
    wave = torch.randn(2, 1, model.required_window()) * 0.1
    total, parts = separation_loss(model, wave, wave[:, None] * 0.5, {"l1": 1.0, "kl": 1.0})
    assert parts["kl"] > 0 and float(total.detach()) == pytest.approx(parts["l1"] + parts["kl"], rel=1e-5)
    total.backward()
    assert model.net.mu.weight.grad is not None and model.net.lstm.weight_ih_l0.grad is not None
