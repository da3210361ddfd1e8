"""CoverHunter (the ``coverhunter`` family of the ``covers`` task) against CoverHunterMPS's own code.

The fixtures in ``tests/fixtures/coverhunter/`` were written by a throwaway harness outside the
repository that ran CoverHunterMPS's code (``src/model.py``, ``src/loss.py``, the conformer and
layers it imports, and ``tools/identify.py``'s feature code with nnAudio 0.3.4's ``CQT``, on CPU):

- ``checkpoints/g_00000007`` + ``config/hparams.yaml``: their ``Model`` with seeded random weights
  (BatchNorm statistics included; 2 conformer blocks of width 32), saved as their trainer saves it
  (``torch.save({"generator": state_dict}, "g_%08d" % epoch)``), hparams in their ``config/`` layout;
- ``lo/g_00000003`` + ``lo/hparams.yaml``: a tiny model whose encoder width (16) differs from
  ``embed_dim`` (8, their ``_embed_lo``), its hparams under the original CoverHunter's ``ce:`` name;
- ``parity.npz``: inputs ``q / 2 - 40`` dB (int8 ``q``, batch 2, 250 and 1000 frames) and their
  ``inference`` embeddings and logits and eval-mode ``compute_loss`` (labels [1, 1]) for both models;
- ``features.npz``: a 1.5 s signal, its features from their ``_make_feat`` (float32, as they run)
  and from the same nnAudio graph in float64, their ``_get_feat`` network input (chunk 60 frames,
  mean_size 3) and the unit embedding their ``inference`` gives it with the first model.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
yaml = pytest.importorskip("yaml")

from songscope.audio.signal import Audio, View  # noqa: E402
from songscope.covers.config import CoverHunterConfig, read_hparams  # noqa: E402
from songscope.covers.embedding import net_from_checkpoint, network_input  # noqa: E402
from songscope.covers.features import csi_features  # noqa: E402
from songscope.covers.losses import CenterLoss, FocalLoss, HardTripletLoss  # noqa: E402
from songscope.covers.model import CoverHunterNet  # noqa: E402
from songscope.errors import AudioError, CheckpointError, ConfigError  # noqa: E402
from songscope.models import load_engine  # noqa: E402
from songscope.models.container import save_checkpoint  # noqa: E402
from songscope.models.converters import read_checkpoint  # noqa: E402

from .test_models import _Exploit  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "coverhunter"
MAIN = FIXTURES / "checkpoints" / "g_00000007"
LO = FIXTURES / "lo" / "g_00000003"


@pytest.fixture(scope="module")
def parity():
    return np.load(FIXTURES / "parity.npz")


@pytest.fixture(scope="module")
def reference():
    return np.load(FIXTURES / "features.npz")


def _inputs(parity, frames: int) -> torch.Tensor:
    return torch.from_numpy(parity[f"q{frames}"].astype(np.float32) / 2 - 40)


def test_features_follow_nnaudio_cqt1992v2_as_coverhunter_mps_uses_it(reference):
    ours = csi_features(reference["signal"])
    assert ours.shape == reference["features64"].shape == (38, 96) and ours.dtype == np.float32
    # the definition: their graph in float64 (max 4e-6 dB here)
    assert np.abs(ours - reference["features64"]).max() < 1e-4
    # as they run it (float32): rounding shows only in quiet bins
    theirs = reference["features32"]
    loud = theirs > -60
    assert np.abs(ours - theirs)[loud].max() < 5e-3 and np.abs(ours - theirs).max() < 0.05
    assert ours.max() == 0.0


def test_the_network_input_is_their_first_chunk_padded_and_mean_pooled(reference):
    config = read_hparams(FIXTURES / "config" / "hparams.yaml")
    net_input = network_input(csi_features(reference["signal"]), config)
    assert net_input.shape == (20, 96)  # chunk_frame[0] frames of 3-frame means
    assert np.abs(net_input - reference["net_input"]).max() < 0.02
    assert np.all(net_input[13:] == -100.0)  # 38 frames of audio, the rest of the 60 padded


@pytest.mark.parametrize("path, tag", [(MAIN, "a"), (LO, "b")])
def test_their_checkpoints_load_through_the_converter_and_give_their_outputs(parity, path, tag):
    checkpoint = read_checkpoint(path)
    assert checkpoint.family == "coverhunter"
    net = net_from_checkpoint(checkpoint)
    for frames in (250, 1000):
        x = _inputs(parity, frames)
        with torch.no_grad():
            embeddings = net(x)
            total, parts = net.losses(x, torch.tensor([1, 1]))
        assert np.abs(embeddings.numpy() - parity[f"{tag}_embed{frames}"]).max() < 1e-4
        assert np.abs(net.logits(embeddings).detach().numpy() - parity[f"{tag}_logits{frames}"]).max() < 1e-4
        losses = [total.item()] + [parts[k].item() for k in ("foc_loss", "tri_loss", "cen_loss")]
        np.testing.assert_allclose(losses, parity[f"{tag}_loss{frames}"], rtol=1e-5, atol=1e-6)


def test_the_converter_reads_their_layouts_and_says_what_it_left_out(tmp_path):
    main = read_checkpoint(MAIN)
    assert main.metadata["epoch"] == 7 and main.metadata["hparams"].endswith("config/hparams.yaml")
    assert main.config["encoder"] == {"output_dims": 32, "num_blocks": 2, "attention_dim": 32}
    assert main.config["covers80"]["query_path"].endswith("full.txt")  # a test set section, kept
    assert any("do_XXXXXXXX" in note for note in main.notes)
    assert any("'ce:' section was read as" in note for note in read_checkpoint(LO).notes)
    # no hparams.yaml anywhere near: the architecture comes from the weights' shapes
    alone = tmp_path / "g_00000001"
    shutil.copy(MAIN, alone)
    bare = read_checkpoint(alone)
    assert bare.config["encoder"] == main.config["encoder"] and bare.config["foc"]["output_dims"] == 10
    assert any("read from the weights' shapes" in note for note in bare.notes)
    # a file songscope wrote from it embeds the same
    x = torch.zeros(1, 40, 96) - 30
    with torch.no_grad():
        before = net_from_checkpoint(main)(x)
        after = net_from_checkpoint(read_checkpoint(save_checkpoint(main, tmp_path / "main.pt")))(x)
    assert torch.equal(before, after)


def _their_layout(tmp_path: Path, state: dict, hparams: dict) -> Path:
    (tmp_path / "config").mkdir(parents=True)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "config" / "hparams.yaml").write_text(yaml.safe_dump(hparams))
    torch.save({"generator": state}, tmp_path / "checkpoints" / "g_00000002")
    return tmp_path / "checkpoints" / "g_00000002"


def test_the_converter_refuses_weights_that_do_not_fit(tmp_path):
    state = dict(torch.load(MAIN, weights_only=True)["generator"])
    hparams = yaml.safe_load((FIXTURES / "config" / "hparams.yaml").read_text())
    wrong = _their_layout(tmp_path / "wrong", state, {**hparams, "embed_dim": 64})
    with pytest.raises(CheckpointError, match=r"imply \(64,\); is this the run's hparams.yaml"):
        read_checkpoint(wrong)
    missing = _their_layout(tmp_path / "missing", {k: v for k, v in state.items() if "after_norm" not in k}, hparams)
    with pytest.raises(CheckpointError, match="missing _encoder.after_norm"):
        read_checkpoint(missing)
    typo = _their_layout(tmp_path / "typo", state, {**hparams, "encoder": {**hparams["encoder"], "blocks": 2}})
    with pytest.raises(CheckpointError, match=r"\[encoder\]: unknown setting 'blocks'") as caught:
        read_checkpoint(typo)
    assert "\n" not in str(caught.value)
    newer = _their_layout(tmp_path / "newer", state, {**hparams, "lr_schedule": "cosine"})
    assert any("keys songscope does not know" in n and "lr_schedule" in n for n in read_checkpoint(newer).notes)
    extra = {**{k: v for k, v in state.items() if k != "_center_loss.centers"}, "_arcface.weight": torch.zeros(3)}
    notes = read_checkpoint(_their_layout(tmp_path / "extra", extra, hparams)).notes
    assert any("left out 1 weights" in n for n in notes) and any("no center-loss centres" in n for n in notes)


def test_a_hostile_generator_file_is_refused_and_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "g_00000001"
    torch.save({"generator": {"_encoder.after_norm.weight": torch.zeros(1)}, "payload": _Exploit(marker)}, evil)
    with pytest.raises(CheckpointError, match="refused: it would call posix.system"):
        load_engine("covers", str(evil))
    assert not marker.exists()


def test_the_family_embeds_a_recording_through_the_registry(reference):
    engine = load_engine("covers", str(MAIN))
    assert (engine.family, engine.task, engine.views, engine.uses_stems) == ("coverhunter", "covers",
                                                                             (View(16000, 1),), False)
    result = engine.predict(Audio.from_array(reference["signal"], 16000))
    assert result.vector.shape == (32,) and result.vector.dtype == np.float32 and result.model == str(MAIN)
    assert abs(np.linalg.norm(result.vector) - 1) < 1e-6 and result.frames is None
    assert np.abs(result.vector - reference["unit_embedding"]).max() < 1e-4
    with pytest.raises(AudioError, match="too short for CoverHunter's CQT") as caught:
        engine.predict(Audio.from_array(reference["signal"][:4000], 16000))
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="a covers model"):
        load_engine("key", str(MAIN))


def test_hparams_keys_build_the_model_and_mistakes_are_one_line_errors():
    config = CoverHunterConfig.from_hparams({"ce": {"output_dims": 7}, "encoder": {"num_blocks": 1},
                                             "my_set": {"query_path": "q.txt", "ref_path": "r.txt"}})
    assert config.foc.output_dims == 7 and config.testsets == {"my_set": {"query_path": "q.txt", "ref_path": "r.txt"}}
    assert CoverHunterConfig.from_hparams(config.to_hparams()) == config
    assert (config.chunk_input_frames, config.feature_spec.hop, config.feature_spec.fmin) == (3375, 640, 32.0)
    for bad, message in [({"embed_dimm": 3}, "unknown setting 'embed_dimm'"),
                         ({"encoder": {"heads": 8}}, r"\[encoder\]: unknown setting 'heads'"),
                         ({"ce": {}, "foc": {}}, "both 'ce' and 'foc'"),
                         ({"n_bins": 84}, "n_bins .84. must equal input_dim"),
                         ({"embed_dim": "big"}, "embed_dim = 'big' is not a int"),
                         ({"encoder": {"output_dims": 30}}, "multiple of 4")]:
        with pytest.raises(ConfigError, match=message) as caught:
            CoverHunterConfig.from_hparams(bad)
        assert "\n" not in str(caught.value)
    net = CoverHunterNet(config)
    assert sum("encoders." in k and k.endswith("norm_final.weight") for k in net.state_dict()) == 1


def test_losses_give_their_known_values():
    # focal: two equal logits, p = 1/2 (+ float32 eps): (1 - p)^gamma * ln 2
    logits, labels = torch.zeros(3, 2), torch.tensor([0, 1, 1])
    assert FocalLoss(gamma=0.0)(logits, labels).item() == pytest.approx(np.log(2), rel=1e-6)
    assert FocalLoss(gamma=2.0)(logits, labels).item() == pytest.approx(0.25 * np.log(2), rel=1e-5)
    assert FocalLoss(gamma=2.0, reduction="sum")(logits, labels).item() == pytest.approx(0.75 * np.log(2), rel=1e-5)
    weighted = FocalLoss(gamma=0.0, alpha=torch.tensor([1.0, 3.0]))(torch.tensor([[0.0, np.log(3)]] * 2), torch.tensor([0, 1]))
    # weights 1 and 3 rescaled to sum to 2: (0.5 * ln 4 + 1.5 * ln(4/3)) / 2
    assert weighted.item() == pytest.approx((0.5 * np.log(4) + 1.5 * np.log(4 / 3)) / 2, rel=1e-5)
    # triplet on a line: points 0, 1 (work 0) and 3 (work 1); margin 1.5
    points, works = torch.tensor([[0.0], [1.0], [3.0]]), torch.tensor([0, 0, 1])
    # margin 2.5, anchor 0: relu(1 - 3 + 2.5) = 0.5; anchor 1: relu(1 - 2 + 2.5) = 1.5;
    # anchor 2 (no positive, its hardest positive distance is 0): relu(0 - 2 + 2.5) = 0.5
    assert HardTripletLoss(margin=2.5)(points, works).item() == pytest.approx(2.5 / 3, rel=1e-6)
    assert HardTripletLoss(margin=0.3)(points, works).item() == 0.0
    # center: squared distances to the own centre, averaged over the batch
    center = CenterLoss(num_classes=2, feat_dim=2)
    with torch.no_grad():
        center.centers.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    value = center(torch.tensor([[1.0, 0.0], [1.0, 3.0]]), torch.tensor([0, 1])).item()
    assert value == pytest.approx((1.0 + 4.0) / 2, rel=1e-6)
