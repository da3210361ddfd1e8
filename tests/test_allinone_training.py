"""Training the All-In-One family: targets and losses against their definitions, the data
layouts, folds split by track, the augmentation chain, a one-epoch smoke run through
``songscope train structure`` whose model ``analyze`` reads, ensembles, chunked inference and
the ONNX export (skipped without onnxruntime)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F

from songscope.cli import main
from songscope.conventions import HARMONIX_LABELS, STEMS
from songscope.errors import ConfigError, InputError
from songscope.models import load_engine
from songscope.result import save_result
from songscope.structure.allinone.config import AllInOneConfig
from songscope.structure.allinone.dataset import assign_folds, find_structure_tracks
from songscope.structure.allinone.export import chunk_spans, chunked_logits
from songscope.structure.allinone.model import AllInOneLogits
from songscope.structure.allinone.targets import event_frames, function_frames, merge_label, widen
from songscope.structure.allinone.training import save_ensemble, structure_losses
from songscope.synth import make_song, render_song
from songscope.synth.dataset import song_truth
from songscope.train.augment import MasteringChain, master

SR = 44100
TINY = {"depth": 1, "double_attention": False, "drop_conv": 0.0, "drop_path": 0.0, "drop_hidden": 0.0,
        "drop_attention": 0.0}


def test_widened_targets_follow_allin1s_rule():
    events = event_frames(np.array([0.105, 0.5, 0.52, 9.0]), 60, 100.0)
    assert events.tolist() == [10, 50, 52]  # floor(t * fps); 9 s is past the end
    beat = widen(events, 60, 1)
    assert beat[[9, 10, 11, 49, 50, 51, 52, 53]].tolist() == [0.5, 1, 0.5, 0.5, 1, 1 / 2, 1, 0.5]
    assert beat.sum() == 3 + 0.5 * 5  # frame 51 lies next to two events: 0.5, not 1
    section = widen(np.array([30]), 60, 2)
    assert section[27:34].tolist() == [0, 0.25, 0.5, 1, 0.5, 0.25, 0]


def test_function_targets_start_and_end_around_the_sections():
    frames = function_frames(np.array([0.5, 1.0, 2.0]), ["intro", "chorus"], 250, 100.0)
    index = HARMONIX_LABELS.index
    assert (frames[:50] == index("start")).all() and (frames[50:100] == index("intro")).all()
    assert (frames[100:200] == index("chorus")).all() and (frames[200:] == index("end")).all()


@pytest.mark.parametrize("raw, merged", [("Verse 2", "verse"), ("prechorus", "verse"), ("chorus_b", "chorus"),
                                         ("instrumental", "inst"), ("fadeout", "outro"), ("bridge1", "bridge"),
                                         ("gtr solo", "solo"), ("break", "break"), ("end", "end"),
                                         ("mystery", "inst")])
def test_raw_section_names_merge_into_the_ten_functions(raw, merged):
    assert merge_label(raw) == merged


def test_losses_are_bce_and_ce_and_skip_tracks_without_sections():
    torch.manual_seed(0)
    n, t = 2, 30
    logits = AllInOneLogits(torch.randn(n, t), torch.randn(n, t), torch.randn(n, t), torch.randn(n, 10, t),
                            torch.zeros(n, 4, t, 24))
    batch = {"beat": torch.rand(n, t), "downbeat": torch.rand(n, t), "section": torch.rand(n, t),
             "function": torch.randint(0, 10, (n, t)), "has_sections": torch.tensor([1.0, 0.0])}
    total, parts = structure_losses(logits, batch, {"beat": 2.0})
    bce = [-(y * torch.log(torch.sigmoid(x)) + (1 - y) * torch.log(1 - torch.sigmoid(x))).mean()
           for x, y in ((logits.beat, batch["beat"]), (logits.downbeat, batch["downbeat"]),
                        (logits.section[:1], batch["section"][:1]))]
    ce = -torch.log_softmax(logits.function[0], dim=0).gather(0, batch["function"][:1]).mean()
    assert parts["beat"] == pytest.approx(bce[0].item(), rel=1e-5)
    assert parts["downbeat"] == pytest.approx(bce[1].item(), rel=1e-5)
    assert parts["section"] == pytest.approx(bce[2].item(), rel=1e-5)  # example 2 has no sections
    assert parts["function"] == pytest.approx(ce.item(), rel=1e-5)
    assert total.item() == pytest.approx(2 * parts["beat"] + parts["downbeat"] + parts["section"] + parts["function"],
                                         rel=1e-5)
    assert F.cross_entropy(logits.function[:1], batch["function"][:1]).item() == pytest.approx(parts["function"],
                                                                                                rel=1e-5)


def test_folds_split_by_track_evenly_and_reproducibly():
    names = [f"track{i:02d}" for i in range(19)]
    folds = assign_folds(names, 8, seed=3)
    assert set(folds) == set(names) and set(folds.values()) == set(range(8))
    sizes = np.bincount(list(folds.values()))
    assert sizes.max() - sizes.min() <= 1
    assert assign_folds(list(reversed(names)), 8, seed=3) == folds  # by name, not by listing order
    assert assign_folds(names, 8, seed=4) != folds


def _short_song(seed: int):
    return make_song(seed=seed, tempo=120.0, form=(("intro", 2), ("verse", 2), ("chorus", 2)))


def _synth_corpus(root: Path, count: int) -> Path:
    """A ``songscope synth``-layout corpus of ``count`` 12-second songs (numpy instruments)."""
    rows = []
    for i in range(count):
        song, name = _short_song(10 + i), f"song{i}"
        audio = render_song(song, SR, seed=i)
        folder = root / "train" / name
        folder.mkdir(parents=True)
        for stem in (*STEMS, "mixture"):
            sf.write(folder / f"{stem}.wav", audio[stem], SR, subtype="FLOAT")
        save_result(song_truth(song, f"train/{name}/mixture.wav"), root / "annotations" / f"{name}.json")
        rows.append({"track": name, "split": "train", "mixture": f"train/{name}/mixture.wav",
                     "annotation": f"annotations/{name}.json"})
    with open(root / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


def test_harmonix_and_jams_layouts_are_read(tmp_path):
    harmonix = tmp_path / "harmonix"
    for folder in ("beats_and_downbeats", "segments", "audio"):
        (harmonix / folder).mkdir(parents=True)
    (harmonix / "beats_and_downbeats" / "0001_x.txt").write_text("0.5\t1\t1\n1.0\t2\t1\n1.5\t1\t2\n")
    (harmonix / "segments" / "0001_x.txt").write_text("0.0 intro\n1.2 Verse2\n2.0 end\n")
    sf.write(harmonix / "audio" / "0001_x.wav", np.zeros(SR), SR)
    (track,) = find_structure_tracks(harmonix)
    assert track.name == "0001_x" and track.downbeats.tolist() == [0.5, 1.5]
    assert track.boundaries.tolist() == [0.0, 1.2, 2.0] and track.labels == ["intro", "Verse2"]
    jams = tmp_path / "jams"
    jams.mkdir()
    song = _short_song(1)
    sf.write(jams / "a.wav", np.zeros(SR), SR)
    from songscope.result import save_jams

    save_jams(song_truth(song, "a.wav"), jams / "a.jams")
    (track,) = find_structure_tracks(jams)
    beats, positions = song.beats()
    assert np.allclose(track.beats, beats) and np.allclose(track.downbeats, beats[positions == 1])
    assert [label for label in track.labels] == [s[2] for s in song.sections()]
    with pytest.raises(InputError, match="no annotated track"):
        find_structure_tracks(tmp_path / "harmonix" / "audio")


def test_mastering_chain_keeps_the_stems_summing_and_does_what_it_says():
    rng = np.random.default_rng(0)
    stems = rng.standard_normal((4, SR)).astype(np.float32) * 0.05
    linear = MasteringChain(probability=1.0, tilt=1.0, compress=0.0, reverb=1.0, noise=0.0, band_limit=1.0,
                            cutoff_hz=(8000.0, 8000.0))
    out = master(stems, SR, linear, np.random.default_rng(1))
    whole = master(stems.sum(axis=0, keepdims=True), SR, linear, np.random.default_rng(1))
    assert out.shape == stems.shape and out.dtype == np.float32
    np.testing.assert_allclose(out.sum(axis=0), whole[0], atol=2e-5)  # linear stages: sum of parts = whole
    spectrum = np.abs(np.fft.rfft(out.sum(axis=0))) ** 2
    freqs = np.fft.rfftfreq(SR, 1 / SR)
    assert spectrum[freqs > 8600].sum() < 1e-6 * spectrum[freqs < 8000].sum()  # band limited
    noisy = master(np.zeros_like(stems) + 0.1 * np.sin(np.arange(SR) / 10.0), SR,
                   MasteringChain(probability=1.0, tilt=0.0, compress=0.0, reverb=0.0, noise=1.0, band_limit=0.0,
                                  snr_db=(20.0, 20.0)), rng)
    clean = 0.4 * np.sin(np.arange(SR) / 10.0)
    snr = 10 * np.log10(np.mean(clean ** 2) / np.mean((noisy.sum(axis=0) - clean) ** 2))
    assert abs(snr - 20.0) < 0.5
    assert master(stems, SR, MasteringChain(probability=0.0), rng) is not None
    with pytest.raises(ConfigError):
        MasteringChain(noise=1.5)


def _tiny_config(tmp_path: Path, **extra) -> Path:
    settings = {"family": "allinone", "demix": "reference", "num_folds": 2, "segment_seconds": 4.0,
                "batch_size": 2, "epochs": 1, "threads": 1, **extra}
    lines = [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    lines += ["[model]"] + [f"{k} = {json.dumps(v)}" for k, v in TINY.items()]
    lines += ["[train]", "seed = 0", "device = \"cpu\"", "warmup = 0"]
    path = tmp_path / "tiny.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_one_epoch_on_two_tiny_songs_gives_a_model_analyze_reads(tmp_path, capsys):
    corpus = _synth_corpus(tmp_path / "corpus", 2)
    out = tmp_path / "run"
    assert main(["train", "structure", "--config", str(_tiny_config(tmp_path)), "--data", str(corpus),
                 "--out-dir", str(out), "-q"]) == 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    scored = [r for r in rows if r.get("val/beat_F")]
    assert scored and {"val/downbeat_F", "val/HR.5F", "val/HR3F", "val/label_accuracy",
                       "val/frame_accuracy"} <= set(scored[-1])
    assert len(list((out / "spec_cache").glob("*.spec.npy"))) == 2
    engine = load_engine("structure", str(out / "model.pt"), "cpu")
    assert engine.family == "allinone"
    from songscope.audio.signal import Audio
    from songscope.result import Stems

    stems, _ = sf.read(corpus / "train" / "song0" / "bass.wav", dtype="float32")
    sources = {s: sf.read(corpus / "train" / "song0" / f"{s}.wav", dtype="float32")[0][None] for s in STEMS}
    audio = Audio.from_array(sources["bass"], SR).with_stems(Stems(sources, SR, "reference"))
    result = engine.predict(audio)
    frames = int(np.ceil(len(stems) / 441))
    assert result.activations["beat"].shape == (frames,) and result.activations["label"].shape == (10, frames)
    assert result.embeddings.shape == (4, frames, 24)
    assert main(["train", "structure", "--config", str(_tiny_config(tmp_path, fold=5)), "--data", str(corpus),
                 "--out-dir", str(out)]) != 0
    assert "fold must be 0 .. 1" in capsys.readouterr().err


def test_windows_first_built_while_analysing_still_serve_training():
    from songscope.structure.allinone.model import AllInOne

    torch.manual_seed(0)
    model = AllInOne(AllInOneConfig.from_dict(TINY))
    spec = torch.randn(1, 4, 37, 81)  # a length no other test uses: its window tables are built here
    with torch.inference_mode():
        model.eval()(spec)
    model.train()(spec).beat.sum().backward()  # autograd saves the cached tables: they are normal tensors
    assert model.beat_classifier.classifier.weight.grad is not None


def test_an_ensemble_checkpoint_averages_its_members(tmp_path):
    from songscope.structure.allinone.model import AllInOne

    cfg = AllInOneConfig.from_dict(TINY)
    torch.manual_seed(0)
    models = [AllInOne(cfg).eval() for _ in range(2)]
    path = save_ensemble(models, tmp_path / "ensemble.pt")
    engine = load_engine("structure", str(path), "cpu")
    assert len(engine.models) == 2
    spec = torch.randn(1, 4, 300, 81)
    with torch.no_grad():
        for loaded, original in zip(engine.models, models):
            assert torch.equal(loaded(spec).beat, original(spec).beat)


def test_chunks_tile_the_recording_and_match_one_pass_where_context_suffices():
    for total, frames, overlap in ((1000, 300, 100), (1000, 1000, 0), (50, 300, 100), (1001, 250, 249)):
        spans = chunk_spans(total, frames, overlap)
        kept = np.concatenate([np.arange(a, b) for _, _, a, b in spans])
        assert kept.tolist() == list(range(total))
        assert all(start <= a and b <= stop and stop - start <= frames for start, stop, a, b in spans)
    with pytest.raises(ConfigError):
        chunk_spans(100, 10, 10)
    from songscope.structure.allinone.model import AllInOne

    torch.manual_seed(0)
    model = AllInOne(AllInOneConfig.from_dict({**TINY, "depth": 2, "dilation_factor": 2})).eval()

    def run(chunk):
        with torch.no_grad():
            out = model(torch.from_numpy(chunk))
        return [out.beat.numpy(), out.downbeat.numpy(), out.section.numpy(), out.function.numpy(),
                out.embeddings.numpy()]

    spec = np.random.default_rng(0).standard_normal((4, 900, 81)).astype(np.float32)
    whole = [p[0] for p in run(spec[None])]
    chunked = chunked_logits(run, spec, 400, 200)
    for a, b in zip(whole, chunked):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-4)  # receptive field (~15 frames) < overlap / 2


@pytest.mark.slow  # the exporter takes about a minute even for one block
def test_onnx_export_matches_torch(tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install 'songscope[onnx]')")
    pytest.importorskip("onnxscript", reason="onnxscript not installed (pip install 'songscope[onnx]')")
    from songscope.models.container import Checkpoint, save_checkpoint
    from songscope.structure.allinone.model import AllInOne

    torch.manual_seed(0)
    model = AllInOne(AllInOneConfig.from_dict(TINY)).eval()
    path = save_checkpoint(Checkpoint("allinone", model.cfg.to_dict(), model.state_dict()), tmp_path / "tiny.pt")
    assert main(["export", str(path), "-o", str(tmp_path / "tiny.onnx"), "--frames", "300"]) == 0
    spec = np.random.default_rng(1).standard_normal((1, 4, 300, 81)).astype(np.float32)
    session = ort.InferenceSession(str(tmp_path / "tiny.onnx"), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {"spectrogram": spec})
    with torch.no_grad():
        reference = model(torch.from_numpy(spec))
    for name, value in zip(("beat", "downbeat", "section", "function", "embeddings"), outputs):
        assert np.abs(value - getattr(reference, name).numpy()).max() < 1e-4


@pytest.mark.slow  # renders 4 songs with FluidSynth, trains, then analyze separates a 100-second song
def test_structure_tiny_config_trains_a_model_whose_analysis_writes_allin1_files(tmp_path):
    pytest.importorskip("fluidsynth", reason="pyfluidsynth not installed (pip install 'songscope[synth]')")
    corpus, out, res = tmp_path / "corpus", tmp_path / "out", tmp_path / "res"
    config = Path(__file__).resolve().parents[1] / "configs" / "structure_tiny.toml"
    assert main(["synth", str(corpus), "--works", "4", "--versions", "1", "-q"]) == 0
    assert main(["train", "structure", "--config", str(config), "--data", str(corpus), "--out-dir", str(out),
                 "-q"]) == 0
    track = sorted((corpus / "mixtures").glob("*.wav"))[-1]
    assert main(["analyze", str(track), "-m", str(out / "model.pt"), "-a", "-e", "-o", str(res)]) == 0
    frames = int(np.ceil(sf.info(track).frames / 441))
    activations = np.load(res / f"{track.stem}.activ.npz")
    assert {k: activations[k].shape for k in ("beat", "downbeat", "segment", "label")} == {
        "beat": (frames,), "downbeat": (frames,), "segment": (frames,), "label": (10, frames)}
    assert np.load(res / f"{track.stem}.embed.npy").shape == (4, frames, 24)


@pytest.mark.slow  # renders two 90-second songs with FluidSynth
def test_synth_takes_several_soundfonts_in_turn(tmp_path):
    pytest.importorskip("fluidsynth", reason="pyfluidsynth not installed (pip install 'songscope[synth]')")
    fonts = [Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), Path("/usr/share/sounds/sf2/TimGM6mb.sf2")]
    if not all(f.is_file() for f in fonts):
        pytest.skip("needs fluid-soundfont-gm and timgm6mb-soundfont (apt)")
    assert main(["synth", str(tmp_path), "--works", "2", "--versions", "1", "--soundfont",
                 ",".join(map(str, fonts)), "-q"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "manifest.csv")))
    assert [r["soundfont"] for r in rows] == [f.name for f in fonts]
