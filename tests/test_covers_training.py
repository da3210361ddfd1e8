"""CoverHunter's data preparation and training: ``songscope covers features`` (CoverHunterMPS's
extract_csi_features layout and split), the m-per-class sampler and spectral augmentation, the
shared loop (the loss falls, resume equals an uninterrupted run, the exported model loads), and
the tuning and production tools' bookkeeping."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")
yaml = pytest.importorskip("yaml")

from songscope.covers.dataset import (SplitSettings, parse_line, prepare_features, read_data_hparams,  # noqa: E402
                                      read_list, split_by_work)
from songscope.covers.train_config import CoverHunterTrainConfig, SpecAugment  # noqa: E402
from songscope.covers.train_config import spec_augment  # noqa: E402
from songscope.covers.training import (WorkBatches, fit, random_erase, read_items, roll_pitch,  # noqa: E402
                                       time_stretch, train_coverhunter)
from songscope.covers.tune import experiments, format_summary, run_metrics, slope, summarize  # noqa: E402
from songscope.covers.prod import prod_coverhunter, stratified_folds  # noqa: E402
from songscope.errors import ConfigError, InputError  # noqa: E402
from songscope.models import load_engine  # noqa: E402
from songscope.models.converters import read_checkpoint  # noqa: E402

SR = 16000
SPEEDS = [0.9, 1.0, 1.1]


def _performance(work: int, version: int) -> np.ndarray:
    """4 s of a work's eight-note melody (harmonic tones), transposed and slowed per version."""
    notes = np.random.default_rng(work).integers(57, 74, size=8)
    shift, tempo = (0, 3, -2)[version], (1.0, 0.92, 1.08)[version]
    step = int(0.5 * tempo * SR)
    out = np.zeros(4 * SR)
    t = np.arange(step) / SR
    for i, note in enumerate(notes):
        if (i + 1) * step > len(out):
            break
        f = 440.0 * 2 ** ((note + shift - 69) / 12)
        tone = sum(np.sin(2 * np.pi * f * h * t) / h for h in (1, 2, 3)) * np.exp(-3 * t)
        out[i * step:(i + 1) * step] = tone
    return 0.3 * out / np.abs(out).max()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Four works of three performances (a folder of WAVs and a works CSV), and their features
    with speed variants and a split holding one work out for test."""
    root = tmp_path_factory.mktemp("csi")
    audio = root / "audio"
    audio.mkdir()
    rows = ["path,work"]
    for work in range(4):
        for version in range(3):
            name = f"w{work}_v{version}.wav"
            sf.write(audio / name, _performance(work, version), SR, subtype="PCM_16")
            rows.append(f"{name},song{work}")
    (audio / "works.csv").write_text("\n".join(rows) + "\n")
    (root / "hparams.yaml").write_text(yaml.safe_dump({
        "aug_speed_mode": SPEEDS, "val_data_split": 0.1, "val_unseen": 0.0, "test_data_split": 0.1,
        "test_data_unseen": 0.25, "device": "mps", "seed": 7}))
    report = prepare_features(audio, root / "feat", read_data_hparams(root / "hparams.yaml"), jobs=1)
    return root, report


def _feat(corpus) -> Path:
    return corpus[0] / "feat"


def test_features_write_their_layout_fields_and_split(corpus):
    root, report = corpus
    feat = _feat(corpus)
    full = read_list(feat / "full.txt")
    assert report.lines == len(full) == 12 * len(SPEEDS) and report.computed == len(full) and not report.failures
    assert {"perf", "wav", "dur_s", "work", "version", "feat", "feat_len", "work_id", "version_id"} <= set(full[0])
    for row in full:
        assert Path(row["feat"]).parent == feat / "cqt_feat" and row["feat"].endswith(f"{row['perf']}.cqt.npy")
        features = np.load(row["feat"])
        assert features.dtype == np.float32 and features.shape == (row["feat_len"], 96) and features.max() == 0.0
    # speed variants: sp_<ratio>-<perf>, durations divided by the ratio, files of that length
    by_perf = {row["perf"]: row for row in full}
    for perf in ("w0_v0", "w3_v2"):
        assert by_perf[perf]["dur_s"] == 4.0
        for speed in (0.9, 1.1):
            variant = by_perf[f"sp_{speed}-{perf}"]
            assert variant["dur_s"] == round(4.0 / speed, 2)
            assert abs(sf.info(variant["wav"]).duration - 4.0 / speed) < 0.01
            assert abs(variant["feat_len"] - variant["dur_s"] * 25) <= 1
    # work ids by first appearance, version ids counting each work's lines
    assert (feat / "work_id.map").read_text() == "0 song0\n1 song1\n2 song2\n3 song3\n"
    assert [row["version_id"] for row in full if row["work_id"] == 1] == list(range(9))
    # the split: the test-only work nowhere else; the other works in train, val and test
    train, val, test = (read_list(feat / f"{name}.txt") for name in ("train", "val", "test"))
    test_only = [json.loads(line) for line in (feat / "test-only-work-ids.txt").read_text().split()]
    assert len(test_only) == 1 and report.test_only_works == test_only
    assert not {row["work_id"] for row in train + val} & set(test_only)
    assert {row["work_id"] for row in test} >= set(test_only)
    assert sorted(row["perf"] for row in train + val + test) == sorted(by_perf)
    assert len(read_list(feat / "data.init.txt")) == 12 and len(read_list(feat / "sp_aug.txt")) == len(full)


def test_a_second_run_computes_nothing(corpus, monkeypatch):
    root, _ = corpus
    feat = _feat(corpus)
    before = {p.name: p.stat().st_mtime_ns for p in (feat / "cqt_feat").iterdir()}
    monkeypatch.setattr("songscope.covers.features.csi_features", lambda *a, **k: pytest.fail("recomputed"))
    report = prepare_features(root / "audio", feat, read_data_hparams(root / "hparams.yaml"))
    assert report.computed == 0 and report.lines == 36
    assert before == {p.name: p.stat().st_mtime_ns for p in (feat / "cqt_feat").iterdir()}


def test_dataset_txt_lines_as_json_or_tab_separated(tmp_path, corpus):
    assert parse_line('{"perf": "a", "dur_s": 3.5}') == {"perf": "a", "dur_s": 3.5}
    assert parse_line("perf:a\twav:c:/x.wav\twork:w") == {"perf": "a", "wav": "c:/x.wav", "work": "w"}
    audio = corpus[0] / "audio"
    listing = tmp_path / "dataset.txt"
    listing.write_text(f'{{"perf": "b", "wav": "{audio / "w1_v0.wav"}", "dur_s": 4.0, "work": "x", "version": "b"}}\n'
                       f"perf:a\twav:{audio / 'w0_v0.wav'}\tdur_s:4.0\twork:y\tversion:a\n"
                       f'{{"perf": "a", "wav": "elsewhere.wav", "work": "z"}}\n')
    report = prepare_features(listing, tmp_path / "out", read_data_hparams(None))
    full = read_list(tmp_path / "out" / "full.txt")
    # sorted by perf, the repeated perf's first line kept; no augmentation, everything in train
    assert [row["perf"] for row in full] == ["a", "b"] and full[0]["work"] == "y" and full[0]["work_id"] == 0
    assert report.splits == {"train": 2} and not (tmp_path / "out" / "test.txt").exists()
    with pytest.raises(InputError, match="no 'work' field"):
        listing.write_text('{"perf": "a", "wav": "x.wav"}\n')
        prepare_features(listing, tmp_path / "bad", read_data_hparams(None))


def test_split_by_work_follows_their_fractions():
    rows = [{"perf": f"{w}-{i}", "work_id": w} for w in range(10) for i in range(10)]
    settings = SplitSettings(val_data_split=0.2, val_unseen=0.1, test_data_split=0.1, test_data_unseen=0.2)
    train, val, test, test_only = split_by_work(rows, settings, random.Random(0))
    works = lambda part: {row["work_id"] for row in part}  # noqa: E731
    assert len(test_only) == 2 and works(test) >= set(test_only) and not works(train + val) & set(test_only)
    val_only = works(val) - works(train) - works(test)
    assert len(val_only) == 1  # max(1, int(10 * 0.1))
    seen = works(train)
    assert len(seen) == 7 and all(sum(r["work_id"] == w for r in val) == 2 for w in seen)
    assert len(train) + len(val) + len(test) == 100
    # all fractions 0: every line trains
    train, val, test, test_only = split_by_work(rows, SplitSettings(), random.Random(0))
    assert len(train) == 100 and not (val or test or test_only)


def _hparams(feat: Path, drop: tuple[str, ...] = (), **changes) -> dict:
    settings = {"train_path": str(feat / "train.txt"), "val_path": str(feat / "val.txt"),
                "heldout": {"query_path": str(feat / "test.txt"), "ref_path": str(feat / "test.txt")},
                "chunk_frame": [30, 20], "mean_size": 2, "m_per_class": 2, "batch_size": 4,
                "spec_augmentation": {"random_erase": {"prob": 0.5, "erase_num": 2, "region_size": [0.25, 0.1]},
                                      "roll_pitch": {"prob": 0.5, "shift_num": 12, "method": "default"}},
                "learning_rate": 0.003, "adam_b1": 0.9, "adam_b2": 0.999, "lr_decay": 0.99, "min_lr": 0.0001,
                "max_epochs": 4, "early_stopping_patience": 10, "num_workers": 0, "seed": 3,
                "embed_dim": 16, "encoder": {"output_dims": 16, "num_blocks": 1, "attention_dim": 32},
                "foc": {"output_dims": 8}, "triplet": {"margin": 0.3, "weight": 0.1}, "center": {"weight": 0.01}}
    return {k: v for k, v in {**settings, **changes}.items() if k not in drop}


def _config(tmp_path: Path, feat: Path, name: str = "run", train: dict | None = None, drop: tuple[str, ...] = (),
            **changes):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**_hparams(feat, drop, **changes),
                                    "train": {"out_dir": str(tmp_path / name), "device": "cpu", **(train or {})}}))
    return CoverHunterTrainConfig.load(path)


def test_the_sampler_gives_m_lines_of_each_of_batch_over_m_works(corpus):
    config = _config(corpus[0], _feat(corpus), "sampler", m_per_class=4, batch_size=8)
    items = read_items(config.hparams.train_path)
    few = [item for item in items if item.work_id == items[0].work_id][:2] + \
        [item for item in items if item.work_id != items[0].work_id]
    batches = WorkBatches(few, config.hparams, SpecAugment(), seed=1)
    for index in range(6):
        lines = batches.lines(index)
        works = [few[line].work_id for line in lines]
        assert len(lines) == 8 and len(set(works)) == 2 and all(works.count(w) == 4 for w in set(works))
        x, y = batches[index]
        assert x.shape[0] == 8 and x.shape[2] == 96 and x.shape[1] in (30, 20) and y.tolist() == works
    # a work with two lines repeats them to fill its four places
    for index in range(20):
        lines = batches.lines(index)
        if few[lines[0]].work_id == items[0].work_id:
            assert sorted(set(lines[:4])) == [0, 1]
    # an epoch reads each chunk length once per batch index; batches are a function of the index
    assert sorted(batches.chunk_length(i) for i in range(2)) == [40, 60]
    assert torch.equal(batches[3][0], batches[3][0])


def test_roll_pitch_and_random_erase_do_what_they_say():
    features = np.arange(40 * 12, dtype=np.float32).reshape(40, 12) - 500
    rolled = {tuple(roll_pitch(features, 5, np.random.default_rng(seed))[0]) for seed in range(30)}
    assert rolled == {tuple(np.roll(features, s, axis=1)[0]) for s in (-5, 0, 5)}
    erased = random_erase(features, 3, (0.25, 0.25), np.random.default_rng(4))
    changed = erased != features
    level = np.unique(erased[changed])
    assert len(level) == 1 and -128 < level[0] <= 0 and np.array_equal(erased[~changed], features[~changed])
    assert 10 * 3 <= changed.sum() <= 3 * 10 * 3  # three 10 x 3 blocks, overlapping or not
    rows, cols = np.nonzero(changed)
    assert features.shape == erased.shape and rows.max() < 40 and cols.max() < 12


def test_uniform_roll_and_time_stretch_cover_transpositions_and_tempo_changes(corpus):
    features = np.arange(40 * 12, dtype=np.float32).reshape(40, 12) - 500
    rolled = {tuple(roll_pitch(features, 3, np.random.default_rng(seed), "uniform")[0]) for seed in range(80)}
    assert rolled == {tuple(np.roll(features, s, axis=1)[0]) for s in range(-3, 4)}
    # a ramp read at another tempo stays a ramp with the slope scaled; the ends are kept
    ramp = np.repeat(np.linspace(-90.0, -10.0, 50)[:, None], 4, axis=1)
    faster = time_stretch(ramp, 40)
    assert faster.shape == (40, 4) and np.allclose(np.diff(faster[:, 0]), 80 / 49 * 50 / 40, atol=1e-4)
    assert faster[0, 0] >= -90 and faster[-1, 0] <= -10 and np.allclose(time_stretch(ramp, 50), ramp)
    aug = spec_augment({"time_stretch": {"prob": 1.0, "range": [0.5, 0.5]},
                        "roll_pitch": {"prob": 1.0, "shift_num": 2, "method": "uniform"}})
    assert (aug.stretch_prob, aug.stretch_range, aug.roll_method, aug.shift_num) == (1.0, (0.5, 0.5), "uniform", 2)
    # a batch under stretch keeps the chunk lengths of the epoch
    config = _config(corpus[0], _feat(corpus), "stretch", spec_augmentation={"time_stretch": {"prob": 1.0,
                                                                                               "range": [0.5, 0.5]}})
    items = read_items(config.hparams.train_path)
    stretched = WorkBatches(items, config.hparams, config.augment, seed=2)
    assert stretched[0][0].shape[1] in (30, 20) and torch.isfinite(stretched[0][0]).all()
    for bad, message in [({"time_stretch": {"prob": 0.5, "range": [1.2, 0.8]}}, "range must be"),
                         ({"time_stretch": {"speed": 2}}, "unknown setting 'speed'"),
                         ({"roll_pitch": {"method": "low_melody"}}, "'uniform'")]:
        with pytest.raises(ConfigError, match=message):
            spec_augment(bad)


def test_training_lowers_the_loss_and_exports_a_model_the_registry_loads(corpus, tmp_path):
    config = _config(tmp_path, _feat(corpus), train={"log_every": 1}, learning_rate=0.005, spec_augmentation={})
    result, model = train_coverhunter(config, progress=False)
    with open(tmp_path / "run" / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    focal = [float(r["train/foc_loss"]) for r in rows if r.get("train/foc_loss")]
    assert len(focal) == config.train.steps == 40 and np.mean(focal[-8:]) < 0.7 * np.mean(focal[:8])
    validations = [r for r in rows if r.get("val/loss")]
    assert len(validations) == 4 and all(r.get("val/mAP_heldout") and r.get("val/MR1_heldout") for r in validations)
    assert result.best_loss == pytest.approx(min(float(r["val/loss"]) for r in validations), rel=1e-5)
    assert result.best_loss < 0.7 * float(validations[0]["val/loss"])
    engine = load_engine("covers", str(model))
    assert engine.family == "coverhunter" and engine.net.config.chunk_frame == [30, 20]
    saved = read_checkpoint(model)
    best = read_checkpoint(result.best_checkpoint).state_dict
    assert all(torch.equal(saved.state_dict[k], best[k]) for k in best)
    from songscope.audio.signal import decode
    embedding = engine.predict(decode(corpus[0] / "audio" / "w0_v0.wav", engine.views)).vector
    assert embedding.shape == (16,) and abs(np.linalg.norm(embedding) - 1) < 1e-5


def test_resume_after_an_interruption_equals_an_uninterrupted_run(corpus, tmp_path, monkeypatch):
    settings = {"max_epochs": 2}
    straight = _config(tmp_path, _feat(corpus), "straight", **settings)
    steps = straight.train.steps
    train_coverhunter(straight, progress=False)
    real = WorkBatches.__getitem__

    def crash(self, index):
        if index == steps - 2:
            raise KeyboardInterrupt
        return real(self, index)

    monkeypatch.setattr(WorkBatches, "__getitem__", crash)
    crashed = _config(tmp_path, _feat(corpus), "crashed", **settings)
    with pytest.raises(KeyboardInterrupt):
        train_coverhunter(crashed, progress=False)
    assert read_checkpoint(tmp_path / "crashed" / "last.pt").training["step"] == steps // 2
    monkeypatch.setattr(WorkBatches, "__getitem__", real)
    train_coverhunter(crashed, progress=False)
    a, b = (read_checkpoint(tmp_path / name / "last.pt") for name in ("straight", "crashed"))
    assert a.training["step"] == b.training["step"] == steps
    for name in a.state_dict:
        torch.testing.assert_close(a.state_dict[name], b.state_dict[name], rtol=0, atol=1e-6, msg=name)
    rows = [(tmp_path / name / "metrics.csv").read_text() for name in ("straight", "crashed")]
    assert [line.split(",")[0] for line in rows[0].splitlines()] == [line.split(",")[0] for line in rows[1].splitlines()]


def test_config_keys_map_onto_the_loop_and_mistakes_are_one_line_errors(corpus, tmp_path):
    feat = _feat(corpus)
    config = _config(tmp_path, feat, "map", train={"val_every": 3})
    tc = config.train
    assert (tc.lr, tc.betas, tc.schedule, tc.lr_decay, tc.min_lr, tc.decay_every) == \
        (0.003, (0.9, 0.999), "exponential", 0.99, 0.0001, 1000)
    assert tc.patience == 10 and tc.seed == 3 and tc.workers == 0 and tc.val_every == 3
    lines = len(read_list(feat / "train.txt"))  # three works of seven lines: 5 batches of 4, two lengths
    assert lines == 21 and tc.steps == 4 * (lines // 4) * 2 and tc.log_every == 10
    for changes, train, message in [({"early_stop_metric": "mAP"}, {}, "early_stop_metric 'mAP' is not supported"),
                                    ({}, {"lr": 0.1}, "train.lr is set by the hparams key learning_rate"),
                                    ({"batch_size": 6, "m_per_class": 4}, {}, "must divide batch_size"),
                                    ({"spec_augmentation": {"roll_pitch": {"method": "low_melody"}}}, {},
                                     "'low_melody' is not supported"),
                                    ({"colour": "red"}, {}, "unknown setting 'colour'"),
                                    ({"m_per_class": 4, "batch_size": 16}, {}, "takes batch_size / m_per_class = 4")]:
        with pytest.raises(ConfigError, match=message):
            _config(tmp_path, feat, "bad", train=train, **changes)


def test_tune_summary_maths_on_a_synthetic_log(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,val/loss,val/mAP_a,val/mAP_b\n10,1.0,0.2,0.1\n20,0.8,0.4,0.3\n30,0.7,0.5,0.2\n"
                    "40,0.65,0.45,0.4\n")
    run = run_metrics(path, "a", window=3, epoch_steps=10, others=["b"])
    assert run["val_loss"] == 0.65 and run["val_loss_slope"] == pytest.approx(-0.075)
    assert run["best_val_loss"] == 0.65 and run["best_val_loss_epoch"] == 4.0
    assert run["map"] == 0.45 and run["map_slope"] == pytest.approx(0.025)
    assert run["best_map"] == 0.5 and run["best_map_epoch"] == 3.0 and run["bmap_b"] == 0.4
    assert slope([1, 2], [3, 1], 5) == pytest.approx(-2.0) and slope([1], [3], 3) == 0.0
    summary = summarize([run, {**run, "map": 0.55}, None])
    assert summary["n_seeds"] == 3 and summary["n_diverged"] == 1
    assert summary["map"]["mean"] == pytest.approx(0.5) and summary["map"]["std"] == pytest.approx(0.05)
    text = format_summary({"lrate0.002": summary}, "a")
    assert "Experiment: lrate0.002" in text and "mAP [a]: 0.5000±0.0500" in text and "1/3 seeds diverged" in text
    plan = {"chunk_frames": [[375, 300, 225]], "mean_sizes": [3], "m_per_classes": [], "learning_rates": [0.002],
            "adam_betas": [[0.9, 0.999]], "losses": {}}
    names = [e.name for e in experiments(plan, {"mean_size": 3})]
    assert names == ["chunk_frame375_300_225_mean_size3", "lrate0.002", "adam_betas0.9_0.999", "optimizer_adamw"]


def test_stratified_folds_spread_every_work():
    works = [w for w in range(5) for _ in range(w + 2)]
    folds = stratified_folds(works, 3, seed=0)
    assert sorted(i for fold in folds for i in fold) == list(range(len(works)))
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    for w in range(5):
        counts = [sum(works[i] == w for i in fold) for fold in folds]
        assert max(counts) - min(counts) <= 1
    assert folds == stratified_folds(works, 3, seed=0) != stratified_folds(works, 3, seed=1)


def test_prod_trains_folds_then_all_and_resumes_where_it_stopped(corpus, tmp_path, monkeypatch):
    feat = _feat(corpus)
    settings = {"train_path": str(feat / "full.txt"), "test_path": str(feat / "val.txt"), "max_epochs": 2,
                "k_folds": 2, "lr_initial": 0.001, "fold_lr_decay": 0.99, "final_lr_decay": 0.99, "fold_hold_steps": 2,
                "final_early_stopping_patience": 3}
    config = _config(tmp_path, feat, "prod", drop=("val_path", "heldout"), **settings)
    calls = []
    real_fit, real_item = fit, WorkBatches.__getitem__

    def counting_fit(run, *args, **kwargs):
        calls.append(Path(run.train.out_dir).name)
        return real_fit(run, *args, **kwargs)

    def crash(self, index):
        if len(calls) == 2 and index == 10:
            raise KeyboardInterrupt
        return real_item(self, index)

    monkeypatch.setattr("songscope.covers.training.fit", counting_fit)
    monkeypatch.setattr(WorkBatches, "__getitem__", crash)
    with pytest.raises(KeyboardInterrupt):
        prod_coverhunter(config, progress=False)
    root = tmp_path / "prod" / "prod"
    assert calls == ["fold_1", "fold_2"] and (root / "fold_1" / "result.json").exists()
    assert not (root / "fold_2" / "result.json").exists() and (root / "fold_2" / "last.pt").exists()
    folds = json.loads((root / "folds.json").read_text())["folds"]
    assert sorted(folds[0] + folds[1]) == list(range(36))
    resumed_from = read_checkpoint(root / "fold_2" / "last.pt").training["step"]
    first_result = (root / "fold_1" / "result.json").read_text()
    monkeypatch.setattr(WorkBatches, "__getitem__", real_item)
    result, model = prod_coverhunter(config, progress=False)
    assert calls == ["fold_1", "fold_2", "fold_2", "full"] and resumed_from > 0
    assert (root / "fold_1" / "result.json").read_text() == first_result
    best = json.loads((root / "global_best.json").read_text())
    assert best["run"] in ("fold_1", "fold_2") and Path(best["checkpoint"]).exists()
    assert not (root / "fold_1" / "last.pt").exists() and not (root / "fold_2" / "last.pt").exists()
    assert len(read_list(root / "full" / "train.txt")) == 36 and model == tmp_path / "prod" / "model.pt"
    assert load_engine("covers", str(model)).family == "coverhunter" and result.best_step > 0
    assert (tmp_path / "prod" / "prod_report.txt").exists()
    assert prod_coverhunter(config, progress=False)[1] == model and calls[-1] == "full" and len(calls) == 4


def test_train_command_modes_and_errors(cli, corpus, tmp_path):
    feat = _feat(corpus)
    path = tmp_path / "hp.yaml"
    path.write_text(yaml.safe_dump({**_hparams(feat, max_epochs=1), "train": {"device": "cpu"}}))
    result = cli("train", "coverhunter", "--config", path, "-q", "--out-dir", tmp_path / "cli")
    assert result.code == 0 and "model:" in result.out and (tmp_path / "cli" / "model.pt").exists()
    key = tmp_path / "key.toml"
    key.write_text('data = "x"\n')
    result = cli("train", "key", "--config", key, "--tune", tmp_path / "t.yaml")
    assert result.code == 2 and "family stone has no --tune mode" in result.err
    result = cli("train", "covers", "--config", path, "--prod", "--steps", "3")
    assert result.code == 2 and "--steps and --restart do not apply" in result.err
    result = cli("train", "covers", "--config", path, "--prod")
    assert result.code == 2 and "needs k_folds" in result.err


def test_covers_features_command(cli, corpus, tmp_path):
    result = cli("covers", "features", corpus[0] / "audio", tmp_path / "out", "-q")
    assert result.code == 0 and len(read_list(tmp_path / "out" / "full.txt")) == 12
    result = cli("covers", "features", tmp_path / "nothing", tmp_path / "out2")
    assert result.code == 2 and "no such dataset.txt or folder" in result.err
    (tmp_path / "empty").mkdir()
    result = cli("covers", "features", tmp_path / "empty", tmp_path / "out2")
    assert result.code == 2 and "works.csv: no such CSV" in result.err and "Traceback" not in result.err


def _console(config: Path, *extra: str) -> list[str]:
    """``songscope train covers`` as a separate process (its command line)."""
    return [sys.executable, "-m", "songscope.cli", "train", "covers", "--config", str(config), "-q", *extra]


def _console_env() -> dict[str, str]:
    """This checkout's sources first, one thread."""
    import songscope
    return {**os.environ, "PYTHONPATH": str(Path(songscope.__file__).parents[1]), "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1"}


def test_a_killed_training_process_resumes_from_its_checkpoint(corpus, tmp_path):
    config = _config(tmp_path, _feat(corpus), "killed", train={"log_every": 1}, max_epochs=3)
    steps, epoch = config.train.steps, config.train.val_every
    path, out = tmp_path / "killed.yaml", tmp_path / "killed"
    process = subprocess.Popen(_console(path), env=_console_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "last.pt").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.kill()
    assert process.wait() == -signal.SIGKILL, process.stderr.read()
    reached = read_checkpoint(out / "last.pt").training["step"]
    assert 0 < reached < steps and reached % epoch == 0 and not (out / "model.pt").exists()
    # mark a row the killed run logged before its checkpoint: a resumed run keeps those rows
    with open(out / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["train/loss"] = "12345"
    with open(out / "metrics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    again = subprocess.run(_console(path), env=_console_env(), capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    assert read_checkpoint(out / "last.pt").training["step"] == steps and (out / "model.pt").exists()
    with open(out / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    trained = [int(r["step"]) for r in rows if r.get("train/loss")]
    assert rows[0]["train/loss"] == "12345" and trained == list(range(1, steps + 1))
    assert [int(r["step"]) for r in rows if r.get("val/loss")] == list(range(epoch, steps + 1, epoch))


def test_early_stopping_counts_epochs_and_every_test_set_is_scored_each_epoch(corpus, tmp_path):
    feat = _feat(corpus)
    seen = {"query_path": str(feat / "val.txt"), "ref_path": str(feat / "train.txt")}
    # patience 1: the run stops at the first epoch whose validation loss does not improve on the best
    config = _config(tmp_path, feat, "stop", learning_rate=0.02, early_stopping_patience=1, max_epochs=6, seen=seen)
    result, _ = train_coverhunter(config, progress=False)
    epoch = config.train.val_every
    with open(tmp_path / "stop" / "metrics.csv", newline="") as handle:
        validations = [r for r in csv.DictReader(handle) if r.get("val/loss")]
    losses = [float(r["val/loss"]) for r in validations]
    assert result.stopped_early and result.step == len(losses) * epoch < config.train.steps
    assert [int(r["step"]) for r in validations] == list(range(epoch, result.step + 1, epoch))
    assert all(losses[i] < min(losses[:i]) for i in range(1, len(losses) - 1)) and losses[-1] >= min(losses[:-1])
    assert result.best_step == epoch * (1 + int(np.argmin(losses)))
    for row in validations:
        for name in ("heldout", "seen"):
            assert 0 < float(row[f"val/mAP_{name}"]) <= 1 and float(row[f"val/MR1_{name}"]) >= 1
            assert 0 <= float(row[f"val/P@10_{name}"]) <= 1


def test_tune_trains_every_seed_summarises_and_resumes(cli, corpus, tmp_path):
    path = tmp_path / "hp.yaml"
    path.write_text(yaml.safe_dump({**_hparams(_feat(corpus)), "train": {"device": "cpu", "out_dir": "tuned"}}))
    tuning = tmp_path / "tuning.yaml"
    tuning.write_text(yaml.safe_dump({"test_name": "heldout", "seeds": [1, 2], "max_epochs": 2,
                                      "early_stopping_patience": 2, "learning_rates": [0.005], "optimizers": []}))
    result = cli("train", "covers", "--config", path, "--tune", tuning, "-q")
    assert result.code == 0, result.err
    root = tmp_path / "tuned" / "tune"
    runs = [json.loads((root / f"lrate0.005_seed_{seed}" / "result.json").read_text())["metrics"] for seed in (1, 2)]
    maps = [run["map"] for run in runs]
    assert maps[0] != maps[1] and all(0 < m <= 1 for m in maps)
    text = (root / "summary.txt").read_text()
    assert f"mAP [heldout]: {np.mean(maps):.4f}±{np.std(maps):.4f}" in text
    losses = [run["val_loss"] for run in runs]
    assert f"val_loss: {np.mean(losses):.4f}±{np.std(losses):.4f}" in text and "(slope: " in text
    assert all(run["map_slope"] != 0 and run["val_loss_slope"] != 0 for run in runs)
    assert not list(root.glob("*/last.pt")) and not list(root.glob("*/best.pt"))
    written = {p: p.stat().st_mtime_ns for p in root.glob("*/metrics.csv")}
    assert cli("train", "covers", "--config", path, "--tune", tuning, "-q").code == 0
    assert written == {p: p.stat().st_mtime_ns for p in root.glob("*/metrics.csv")}
