"""ChromaNet / STONE: the front end and the network against the official reference arrays,
checkpoint loading through the registry, calibration, and songscope's own checkpoint format."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from songscope.audio import decode  # noqa: E402
from songscope.errors import AudioError, InputError  # noqa: E402
from songscope.key.checkpoint import labels_from_reference_index, load_key_model, save_key_model  # noqa: E402
from songscope.key.chromanet import ChromaNetConfig, KeyModel  # noqa: E402
from songscope.key.hcqt import HarmonicCQT  # noqa: E402
from songscope.key.stone import calibrate, predict, prepare_track, windows  # noqa: E402
from songscope.models import CATALOG  # noqa: E402
from songscope.models.container import safe_load  # noqa: E402

from .conftest import KEY_DIR, STONE_DIR, need  # noqa: E402

CHECKPOINTS = {"stone12": "semitone_ks", "stone24": "semisupervised_ks_mode"}
AUDIO = ("Cmajor", "mozart_c_major_30sec")


@pytest.fixture(autouse=True)
def _models_from_shared(monkeypatch):
    monkeypatch.setenv("SONGSCOPE_MODEL_DIR", str(STONE_DIR))
    monkeypatch.setenv("SONGSCOPE_OFFLINE", "1")


def _load(model: str):
    """The official checkpoint, or a skip (with the reason) before anything can raise."""
    need(STONE_DIR / f"{CHECKPOINTS[model]}.pt")
    return load_key_model(model)


def _reference(model: str, audio: str) -> dict:
    return np.load(need(STONE_DIR / "reference" / f"{CHECKPOINTS[model]}__{audio}.npz"))


def test_generated_front_end_buffers_equal_the_checkpoint():
    state = safe_load(need(STONE_DIR / "semitone_ks.pt"))["stone"]
    ours = HarmonicCQT().state_dict()
    stored = {k[len("hcqt."):]: v for k, v in state.items() if k.startswith("hcqt.")}
    assert set(stored) == set(ours)
    for name, value in stored.items():
        np.testing.assert_allclose(ours[name].numpy(), value.numpy(), atol=1e-7, err_msg=name)


@pytest.mark.parametrize("audio", AUDIO)
def test_hcqt_matches_the_reference(audio):
    """Measured: top octave <= 1.2e-7; every bin <= 6.5e-5 (Cmajor) and 1.33e-4 (mozart,
    one entry in bin 14, after 7 decimations, where convolution rounding accumulates);
    0.03 % of entries differ by more than 1e-5."""
    ref = _reference("stone12", audio)
    out = HarmonicCQT()(torch.from_numpy(ref["segments"])).numpy()
    assert out.shape == ref["hcqt"].shape
    diff = np.abs(out - ref["hcqt"])
    assert diff[:, :, 87:].max() < 1e-6
    assert diff.max() < 2e-4
    assert (diff > 1e-5).mean() < 1e-3


@pytest.mark.parametrize("model", CHECKPOINTS)
@pytest.mark.parametrize("audio", AUDIO)
def test_network_matches_the_reference(model, audio):
    net, labels = _load(model)
    ref = _reference(model, audio)
    with torch.no_grad():
        stages = net.chromanet.stages(torch.from_numpy(ref["hcqt"][:1, :, :84]))
        for i in range(7):
            np.testing.assert_allclose(stages[2 * i].numpy(), ref[f"block{i}_downsample_seg0"], atol=1e-4)
            np.testing.assert_allclose(stages[2 * i + 1].numpy(), ref[f"block{i}_convnext_seg0"], atol=1e-4)
        logits = net(torch.from_numpy(ref["segments"])).numpy()
        probs = net.probabilities(torch.from_numpy(ref["segments"])).numpy()
    assert np.abs(logits - ref["logits"]).max() < 1e-4  # measured <= 7.6e-6
    assert np.abs(probs - ref["probs"]).max() < 1e-5
    assert int(probs.mean(axis=0).argmax()) == int(ref["pred_index"])
    assert len(labels) == ref["logits"].shape[1]


@pytest.mark.parametrize("model", CHECKPOINTS)
@pytest.mark.parametrize("audio", AUDIO)
def test_end_to_end_from_the_mp3(model, audio):
    """Our decoder and soxr resampler instead of torchaudio's: predictions equal, probabilities close."""
    net, labels = _load(model)
    ref = _reference(model, audio)
    track = prepare_track(decode(need(KEY_DIR / f"{audio}.mp3")), 22050)
    result = predict(net, labels, track, name=model)
    assert result.index == int(ref["pred_index"])
    assert result.key_signature == "C major/A minor"
    if model == "stone24":
        assert result.key == "C major" and result.mode == "major"
    assert np.abs(result.scores - ref["mean_probs"]).max() < 1e-3


@pytest.mark.parametrize("model", CHECKPOINTS)
def test_calibration_recovers_the_published_index_maps(model):
    net, labels = _load(model)
    assert calibrate(net, decode(need(KEY_DIR / "Cmajor.mp3"))) == labels == CATALOG[model].labels


def test_label_maps_follow_the_stone_readme():
    assert CATALOG["stone12"].labels[2] == "C major/A minor"
    assert CATALOG["stone12"].labels[0] == "Bb major/G minor"
    assert CATALOG["stone24"].labels[22] == "C major"
    assert CATALOG["stone24"].labels[10] == "A minor"
    assert labels_from_reference_index(24, 22) == CATALOG["stone24"].labels
    with pytest.raises(InputError, match="minor"):
        labels_from_reference_index(24, 3)


def test_own_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = KeyModel(ChromaNetConfig(num_classes=24, norm="global", channels=(2, 3, 4, 4, 3, 3, 3))).eval()
    labels = labels_from_reference_index(24, 12)
    path = save_key_model(model, labels, tmp_path / "mine.pt")
    loaded, loaded_labels = load_key_model(path)
    x = torch.randn(2, 1, 22050 * 3)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert loaded_labels == labels


def test_missing_tampered_and_foreign_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGSCOPE_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(InputError, match="offline"):
        load_key_model("stone12")
    (tmp_path / "semitone_ks.pt").write_bytes(b"not the real file")
    with pytest.raises(InputError, match="sha256"):
        load_key_model("stone12")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match="not a readable checkpoint"):
        load_key_model(junk)
    with pytest.raises(InputError, match="no such model file"):
        load_key_model(tmp_path / "absent.pt")


def test_windows_follow_stone():
    track = np.arange(100, dtype=np.float32)
    segs, starts = windows(track, 30)
    assert segs.shape == (3, 1, 30) and list(starts) == [0, 30, 60]
    segs, starts = windows(track, 30, overlap=0.5)
    assert list(starts) == [0, 15, 30, 45, 60]
    segs, _ = windows(track[:20], 30)
    assert segs.shape == (1, 1, 20)


def test_key_command_with_stone(cli, tmp_path):
    out = tmp_path / "keys.csv"
    res = cli("key", need(KEY_DIR / "Cmajor.mp3"), "-m", "stone24", "--format", "csv", "--output-file", out)
    assert res.code == 0, res.err
    lines = out.read_text().splitlines()
    assert lines[0] == "path,key,key_signature,mode,confidence,model"
    assert ",C major,C major/A minor,major," in lines[1]


def test_short_clips_are_repeated_to_the_network_minimum(tmp_path):
    segs, starts = windows(np.arange(10, dtype=np.float32), 30, min_length=25)
    assert segs.shape == (1, 1, 25) and list(segs[0, 0, 10:20]) == list(range(10))
    torch.manual_seed(0)
    model = KeyModel(ChromaNetConfig(num_classes=24, norm="global", channels=(2, 3, 4, 4, 3, 3, 3))).eval()
    path = save_key_model(model, labels_from_reference_index(24, 12), tmp_path / "mine.pt")
    t = np.arange(22050) / 22050
    result = predict(model, labels_from_reference_index(24, 12), np.sin(2 * np.pi * 261.63 * t).astype(np.float32))
    assert result.scores.shape == (24,) and abs(result.scores.sum() - 1) < 1e-5
    from songscope import estimate_key
    with pytest.raises(AudioError, match="too short"):
        estimate_key(np.ones(2205, dtype=np.float32), 22050, model=str(path))
    with pytest.raises(AudioError, match="digital silence"):
        estimate_key(np.zeros(22050 * 4, dtype=np.float32), 22050, model=str(path))


def test_torch_front_end_against_librosa_cqt():
    """Same transform as librosa.cqt (A0, 99 semitone bins, hop 512, 22.05 kHz). Measured on
    chords of four random partials: magnitudes at the partials 0.984-0.988 of librosa's (a
    constant window-normalisation factor), spectra normalised to their peak within 0.027,
    correlation >= 0.9996."""
    librosa = pytest.importorskip("librosa")
    sr, rng = 22050, np.random.default_rng(0)
    t = np.arange(sr * 6) / sr
    freqs = 27.5 * 2 ** (np.arange(99) / 12)
    front = HarmonicCQT()
    for _ in range(3):
        bins, amps = rng.choice(np.arange(5, 95), 4, replace=False), rng.uniform(0.2, 1, 4)
        x = sum(a * np.sin(2 * np.pi * freqs[b] * t) for a, b in zip(amps, bins)).astype(np.float32)
        with torch.no_grad():
            ours = front.magnitude(torch.from_numpy(x)[None, None]).numpy()[0][:, 20:-20].mean(axis=1)
        ref = np.abs(librosa.cqt(x, sr=sr, hop_length=512, fmin=27.5, n_bins=99, bins_per_octave=12))
        ref = ref[:, 20:-20].mean(axis=1)
        ratio = ours[bins] / ref[bins]
        assert np.all((ratio > 0.975) & (ratio < 0.995)) and ratio.std() < 0.003
        assert np.abs(ours / ours.max() - ref / ref.max()).max() < 0.04
        assert np.corrcoef(ours, ref)[0, 1] > 0.999
