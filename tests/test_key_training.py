"""STONE training: the losses on cases with known values, label bookkeeping under
transposition, the shared loop (loss falls, resume equals an uninterrupted run, early
stopping), config files, and the ``songscope train`` command's errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from songscope.audio.save import save_audio  # noqa: E402
from songscope.errors import InputError  # noqa: E402
from songscope.key.checkpoint import load_key_model  # noqa: E402
from songscope.key.labels import key_name, key_signature, parse_key  # noqa: E402
from songscope.key.losses import cpsd_loss, dft_projection, key_signature_profile, supervised_key_loss  # noqa: E402
from songscope.key.config import KeyTrainConfig  # noqa: E402
from songscope.key.training import KeyData, _targets, canonical_labels, train_key_model  # noqa: E402
from songscope.models.converters import read_checkpoint  # noqa: E402
from songscope.synth import make_song, render_song  # noqa: E402
from songscope.train import TrainConfig  # noqa: E402

SR = 22050



def _one_hot(classes) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.as_tensor(classes), 12).double()


@pytest.mark.parametrize("w", [1, 7])
def test_dft_projection_of_a_one_hot_profile_is_a_unit_phasor(w):
    k = torch.arange(12)
    d = dft_projection(_one_hot(k), w)
    expected = torch.exp(-2j * math.pi * w * k.double() / 12)
    torch.testing.assert_close(d, expected)


@pytest.mark.parametrize("w", [1, 7])
def test_cpsd_loss_known_values(w):
    k = torch.tensor([0, 3, 7, 11])
    shift = torch.tensor([0, 2, -5, 7])
    # b is a transposed up by `shift`: its one-hot profile is rolled by `shift` -> loss 0
    assert cpsd_loss(_one_hot(k), _one_hot((k + shift) % 12), shift, w).item() == pytest.approx(0, abs=1e-12)
    # flat profiles carry no phase -> loss 1
    flat = torch.full((4, 12), 1 / 12, dtype=torch.float64)
    assert cpsd_loss(flat, flat, shift, w).item() == pytest.approx(1, abs=1e-12)
    # half a circle away from what the shift says -> loss 2 (7 * 6 = 42 = 6 mod 12 for w = 7)
    assert cpsd_loss(_one_hot(k), _one_hot((k + shift + 6) % 12), shift, w).item() == pytest.approx(2, abs=1e-12)
    # one semitone off on the circle of fifths costs 1 - cos(7 * 30 deg)
    off = cpsd_loss(_one_hot(k), _one_hot((k + shift + 1) % 12), shift, w).item()
    assert off == pytest.approx(1 - math.cos(2 * math.pi * w / 12), abs=1e-12)


def test_cpsd_loss_gradient_pulls_profiles_together():
    logits = torch.zeros(1, 12, dtype=torch.float64, requires_grad=True)
    target = _one_hot([4])
    loss = cpsd_loss(torch.softmax(logits, 1), target, torch.tensor([0]), 7)
    loss.backward()
    assert logits.grad[0].argmin().item() == 4  # descending the gradient raises class 4


def test_key_signature_profile_merges_relative_keys():
    p = torch.rand(3, 24)
    torch.testing.assert_close(key_signature_profile(p), p[:, :12] + p[:, 12:])
    q = torch.rand(3, 12)
    assert key_signature_profile(q) is q


def test_supervised_loss_is_cross_entropy():
    logits = torch.tensor([[0.0] * 23 + [math.log(23.0)]])  # class 23 holds probability 1/2
    assert supervised_key_loss(logits, torch.tensor([23])).item() == pytest.approx(math.log(2))
    assert supervised_key_loss(logits, torch.tensor([0])).item() == pytest.approx(math.log(46))


def test_canonical_labels_pair_relative_keys():
    labels = canonical_labels()
    assert len(set(labels)) == 24
    for i in range(12):
        minor_tonic, minor = parse_key(labels[i])
        major_tonic, major_minor = parse_key(labels[12 + i])
        assert minor and not major_minor and (minor_tonic + 3) % 12 == major_tonic


def test_targets_follow_the_cqt_offset():
    tonic, minor, offset = torch.meshgrid(torch.arange(12), torch.arange(2), torch.arange(16), indexing="ij")
    tonic, minor, offset = tonic.flatten(), minor.flatten().bool(), offset.flatten()
    target = _targets(tonic, minor, offset)
    labels = canonical_labels()
    for t, m, o, idx in zip(tonic.tolist(), minor.tolist(), offset.tolist(), target.tolist()):
        assert labels[idx] == key_name((t - o) % 12, m)


@pytest.fixture(scope="module")
def key_songs(tmp_path_factory):
    """Six short synthetic songs (two folders) and a labels CSV."""
    root = tmp_path_factory.mktemp("keys")
    rows = ["path,key"]
    form = (("verse", 4), ("chorus", 4))
    for split, seeds in (("train", range(4)), ("val", range(10, 12))):
        for seed in seeds:
            song = make_song(seed=seed, tempo=120.0, form=form)
            name = f"{split}/s{seed}.wav"
            save_audio(root / name, render_song(song, SR, seed=seed)["mixture"], SR)
            rows.append(f"{name},{song.key}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def _config(root, out, mode="selfsupervised", **train) -> KeyTrainConfig:
    settings = {"steps": 30, "lr": 3e-3, "warmup": 5, "val_every": 10, "log_every": 5, "seed": 0,
                "device": "cpu", "out_dir": str(out), **train}
    return KeyTrainConfig(data=str(root / "train"), validation=str(root / "val"), labels=str(root / "labels.csv"),
                          mode=mode, crop_seconds=3.0, batch_size=4, train=TrainConfig(**settings))


def _metrics(folder) -> list[dict[str, str]]:
    import csv
    with open(folder / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_selfsupervised_training_lowers_the_loss_and_writes_a_calibrated_model(key_songs, tmp_path):
    out = tmp_path / "run"
    result, model_path = train_key_model(_config(key_songs, out, steps=60, val_every=20), progress=False)
    rows = _metrics(out)
    train_loss = [float(r["train/cpsd"]) for r in rows if r.get("train/cpsd")]
    val_loss = [float(r["val/loss"]) for r in rows if r.get("val/loss")]
    assert train_loss[0] > 0.95  # an untrained net outputs near-flat profiles: CPSD loss 1
    assert np.mean(train_loss[-3:]) < 0.8 * train_loss[0]
    assert val_loss[-1] < val_loss[0] - 0.1
    assert result.step == 60 and result.best_loss == pytest.approx(min(val_loss), rel=1e-5)
    net, labels = load_key_model(str(model_path))
    assert len(labels) == 12 and net.config.num_classes == 12 and net.config.segment_seconds == 3.0
    # the exported model is the best checkpoint's weights, not the last ones
    best = read_checkpoint(out / "best.pt").state_dict
    for name, value in net.state_dict().items():
        torch.testing.assert_close(value, best[name], rtol=0, atol=0, msg=name)
    # calibration gives the circle of key signatures in order, one semitone per class (a rotation)
    tonics = [parse_key(label.split("/")[0])[0] for label in labels]
    assert [(b - a) % 12 for a, b in zip(tonics, tonics[1:])] == [1] * 11
    # the logged validation accuracy of the best step is what the key API gives with the exported model
    from songscope import estimate_key
    truth = dict(line.split(",", 1) for line in (key_songs / "labels.csv").read_text().splitlines()[1:])
    hits = [estimate_key(key_songs / name, model=str(model_path)).key_signature == key_signature(*parse_key(key))
            for name, key in truth.items() if name.startswith("val/")]
    logged = next(float(r["val/key_signature_acc"]) for r in rows if r.get("val/key_signature_acc") and
                  int(r["step"]) == result.best_step)
    assert logged == pytest.approx(np.mean(hits))


def test_supervised_training_fits_the_labelled_crops(key_songs, tmp_path):
    out = tmp_path / "sup"
    train_key_model(_config(key_songs, out, mode="supervised", steps=40, lr=5e-3), progress=False)
    rows = [r for r in _metrics(out) if r.get("train/ce")]
    assert float(rows[-1]["train/ce"]) < float(rows[0]["train/ce"]) - 0.5
    net, labels = load_key_model(str(out / "key_model.pt"))
    assert labels == canonical_labels() and net.config.num_classes == 24


def test_resume_after_a_crash_equals_an_uninterrupted_run(key_songs, tmp_path, monkeypatch):
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    train_key_model(_config(key_songs, straight, mode="mixed", steps=12, val_every=6, log_every=4), progress=False)
    real_batch = KeyData.batch

    def crash_at_step_9(self, step, labelled=False):
        if step == 9:
            raise KeyboardInterrupt
        return real_batch(self, step, labelled)

    monkeypatch.setattr(KeyData, "batch", crash_at_step_9)
    with pytest.raises(KeyboardInterrupt):
        train_key_model(_config(key_songs, crashed, mode="mixed", steps=12, val_every=6, log_every=4), progress=False)
    assert read_checkpoint(crashed / "last.pt").training["step"] == 6
    monkeypatch.setattr(KeyData, "batch", real_batch)
    train_key_model(_config(key_songs, crashed, mode="mixed", steps=12, val_every=6, log_every=4), progress=False)
    a, b = read_checkpoint(straight / "last.pt"), read_checkpoint(crashed / "last.pt")
    assert a.training["step"] == b.training["step"] == 12
    steps = [[row["step"] for row in _metrics(run)] for run in (straight, crashed)]
    assert steps[0] == steps[1]  # step 8, logged before the crash and after the resume, appears once
    for name in a.state_dict:
        torch.testing.assert_close(a.state_dict[name], b.state_dict[name], rtol=0, atol=1e-6, msg=name)


def test_early_stopping_with_zero_learning_rate(key_songs, tmp_path):
    result, _ = train_key_model(_config(key_songs, tmp_path / "es", steps=60, lr=0.0, patience=2, val_every=4),
                                progress=False)
    assert result.stopped_early and result.step == 12 and result.best_step == 4


def test_config_file_paths_are_relative_to_the_file(key_songs, tmp_path):
    folder = tmp_path / "cfg"
    folder.mkdir()
    path = folder / "run.toml"
    path.write_text(f'data = "{key_songs / "train"}"\nlabels = "../labels.csv"\nmode = "mixed"\n'
                    '[train]\nsteps = 7\nout_dir = "out"\n')
    (tmp_path / "labels.csv").write_text("path,key\n")
    config = KeyTrainConfig.load(path)
    assert config.labels == str(tmp_path / "labels.csv") and config.train.out_dir == str(folder / "out")
    assert config.train.steps == 7 and config.num_classes == 24


@pytest.mark.parametrize("text, message", [
    ('data = "x"\nmode = "magic"\n', "mode must be one of"),
    ('data = "x"\nmode = "supervised"\n', "needs a labels CSV"),
    ('data = "x"\ncolour = "red"\n', "colour"),
    ('data = "x"\n[train]\nsteps_per_epoch = 3\n', "unknown setting 'steps_per_epoch'"),
    ('data = "x"\nchannels = "abc"\n', "channels = 'abc' is not a"),
    ('data = "x"\n[train]\noptimizer = "lion"\n', "optimizer must be one of"),
    ('data = "x"\nmax_shift = 40\n', "max_shift"),
])
def test_bad_configs_are_input_errors(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        KeyTrainConfig.load(path)


def test_train_command_errors(cli, tmp_path, key_songs):
    missing = cli("train", "key", "--config", str(tmp_path / "nope.toml"))
    assert missing.code == 2 and "no such config file" in missing.err and "Traceback" not in missing.err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no audio here")
    config = tmp_path / "c.toml"
    config.write_text(f'data = "{empty}"\n')
    result = cli("train", "key", "--config", str(config), "-q")
    assert result.code == 2 and result.err.startswith("songscope: error:") and "Traceback" not in result.err
    short = tmp_path / "short.toml"
    short.write_text(f'data = "{key_songs / "val"}"\ncrop_seconds = 600.0\n')
    result = cli("train", "key", "--config", str(short), "-q")
    assert result.code == 2 and "no audible track as long as a training crop" in result.err
    bad_labels = tmp_path / "labels.csv"
    bad_labels.write_text("file,tonality\nx.wav,C major\n")
    labelled = tmp_path / "l.toml"
    labelled.write_text(f'data = "{key_songs / "val"}"\nlabels = "labels.csv"\nmode = "supervised"\n')
    result = cli("train", "key", "--config", str(labelled), "-q")
    assert result.code == 2 and "needs 'path' and 'key' columns" in result.err
    typo = tmp_path / "t.toml"
    typo.write_text(f'data = "{key_songs / "val"}"\nchannels = [2, 3]\nkernels = [7]\n')
    result = cli("train", "key", "--config", str(typo), "-q")
    assert result.code == 2 and result.err.count("\n") == 1 and "one positive entry per stage" in result.err
    unknown = cli("train", "nothing", "--config", str(typo))
    assert unknown.code == 2 and "nothing to train called 'nothing'" in unknown.err
