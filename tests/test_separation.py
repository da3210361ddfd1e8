"""Separation: STFT round trip, oracle masks, chunked overlap-add, losses with known values,
checkpoints (songscope and public Lightning BSRNN layout), training, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")

from songscope.errors import InputError  # noqa: E402
from songscope.separation.bands import LAYOUTS, band_edges  # noqa: E402
from songscope.separation.chunked import separate_array, separate_stream  # noqa: E402
from songscope.separation.losses import (component_loss, l1_loss, l2_loss, multi_resolution_stft_loss,  # noqa: E402
                                         si_sdr_loss, spectrogram_l1_loss, truncate)
from songscope.separation.model import build_model, load_separation_model, save_separation_model  # noqa: E402
from songscope.separation.stft import Spectrogram  # noqa: E402

SR = 44100


def _tiny_bsrnn(**over):
    cfg = dict(targets=("bass", "vocals"), n_fft=512, hop=128, bands=((1000, 250), (4000, 1000), (16000, 4000)),
               fc_dim=8, rnn_dim=8, num_layers=1, mlp_dim=16)
    cfg.update(over)
    return build_model("bsrnn", cfg)


def _tiny_unet(bottleneck="simple"):
    return build_model("unet", dict(n_fft=512, hop=128, num_bins=64, hidden=4, depth=2, bottleneck=bottleneck,
                                    lstm_hidden=16, latent=4))


def test_stft_round_trip_within_1e5():
    wave = torch.randn(2, 2, 44100 + 37) * 0.3
    stft = Spectrogram(2048, 512)
    spec = stft(wave)
    assert spec.shape == (2, 2, 1025, (44100 + 37) // 512 + 1)
    assert torch.max(torch.abs(stft.inverse(spec, wave.shape[-1]) - wave)) < 1e-5


def test_oracle_masks_reconstruct_the_sources():
    rng = np.random.default_rng(0)
    sources = torch.from_numpy(rng.standard_normal((4, 2, 22050)).astype(np.float32)) * 0.2
    stft = Spectrogram(2048, 512)
    mixture = stft(sources.sum(0))
    masks = stft(sources) / mixture  # ideal complex ratio masks
    rebuilt = stft.inverse(masks * mixture, 22050)
    assert torch.max(torch.abs(rebuilt - sources)) < 1e-5


def test_band_layouts_tile_the_spectrum_as_the_paper():
    edges = band_edges(LAYOUTS["vocals"], 44100, 2048)
    assert len(edges) == 41  # V7: 10 + 12 + 8 + 8 + 2 bands + the rest
    assert edges[0] == (0, 5) and edges[-1][1] == 1025
    assert all(a[1] == b[0] for a, b in zip(edges, edges[1:]))
    for name in ("bass", "drums"):
        e = band_edges(LAYOUTS[name], 44100, 2048)
        assert e[0][0] == 0 and e[-1][1] == 1025


@pytest.mark.parametrize("window,hop", [(1000, 750), (1000, 500), (997, 331), (1000, 1000), (50000, 40000)])
def test_chunked_overlap_add_is_exact_for_a_pointwise_separator(window, hop):
    x = np.random.default_rng(1).standard_normal((2, 10007)).astype(np.float32)

    def separate(chunk):
        return np.stack([0.25 * chunk, chunk ** 2])
    out = separate_array(separate, x, window, hop, 2)
    assert out.shape == (2, 2, 10007)
    assert np.max(np.abs(out[0] - 0.25 * x)) < 1e-6 and np.max(np.abs(out[1] - x ** 2)) < 1e-5
    streamed = np.concatenate(list(separate_stream(separate, [x[:, i:i + 613] for i in range(0, 10007, 613)],
                                                   window, hop, 2)), axis=-1)
    assert np.array_equal(streamed, out)


@pytest.mark.parametrize("family", ["bsrnn", "unet"])
def test_chunked_inference_equals_unchunked_on_a_short_input(family):
    torch.manual_seed(0)
    model = (_tiny_bsrnn() if family == "bsrnn" else _tiny_unet()).eval()
    x = np.random.default_rng(2).standard_normal((2, 6000)).astype(np.float32) * 0.1
    with torch.no_grad():
        direct = model(torch.from_numpy(x)[None])[0].numpy()

        def run(chunk):
            return model(torch.from_numpy(chunk)[None])[0].numpy()
        chunked = separate_array(run, x, 8192, 6144, len(model.targets))
        # several windows: the overlap-add of a mixture-consistent model stays consistent
        pieces = separate_array(run, x, 2048, 1536, len(model.targets))
    assert np.max(np.abs(chunked - direct)) < 1e-5
    assert pieces.shape == direct.shape and np.all(np.isfinite(pieces))


def test_losses_on_known_cases():
    t = torch.linspace(0, 1, 8000)
    target = torch.sin(2 * np.pi * 50 * t)[None, None, None]  # (1, 1, 1, N)
    noise = 0.1 * torch.sin(2 * np.pi * 173 * t)[None, None, None]  # orthogonal over whole periods
    assert torch.allclose(l1_loss(target + 0.5, target), torch.tensor([0.5]))
    assert torch.allclose(l2_loss(target + 0.5, target), torch.tensor([0.25]))
    expected = 10 * np.log10(float((target ** 2).sum() / (noise ** 2).sum()))  # 20 dB
    assert si_sdr_loss(3.0 * (target + noise), target).item() == pytest.approx(-expected, abs=0.05)
    assert si_sdr_loss(target, target).item() < -60
    spec = torch.randn(2, 1, 1, 5, 7, dtype=torch.cfloat)
    assert torch.allclose(spectrogram_l1_loss(spec, spec), torch.zeros(2))
    assert spectrogram_l1_loss(spec + (1 + 1j), spec) == pytest.approx(torch.tensor([2.0, 2.0]))
    # component loss: target in bins 0-2, interference in bins 3-5 of a (1, 1, 1, 6, 1) grid
    s = torch.tensor([1.0, 2.0, 3.0, 0.0, 0.0, 0.0]).reshape(1, 1, 1, 6, 1)
    mix = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).reshape(1, 1, 6, 1)
    ideal = (s > 0).float()
    assert component_loss(ideal, s, mix, alpha=0.3).item() == pytest.approx(0.0, abs=1e-6)
    assert component_loss(torch.ones_like(s), s, mix, alpha=0.3).item() == pytest.approx(0.7, abs=1e-6)
    assert component_loss(torch.zeros_like(s), s, mix, alpha=0.3).item() == pytest.approx(0.3, abs=1e-6)
    wave = torch.randn(2, 1, 1, 4096)
    assert torch.allclose(multi_resolution_stft_loss(wave, wave), torch.zeros(2), atol=1e-5)
    assert (multi_resolution_stft_loss(0.5 * wave, wave) > 0.5).all()
    assert truncate(torch.tensor([1.0, 2.0, 3.0, 10.0]), 0.25).item() == pytest.approx(2.0)
    assert truncate(torch.tensor([1.0, 3.0]), 0.0).item() == pytest.approx(2.0)


def test_vae_bottleneck_reports_kl_and_is_deterministic_in_eval():
    model = _tiny_unet("vae")
    x = torch.randn(1, 2, 4096) * 0.1
    model.train()
    model(x)
    assert model.net.kl.item() > 0
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = _tiny_unet("lstm").eval()
    path = save_separation_model(model, tmp_path / "m.pt", {"window_seconds": 3.0})
    loaded = load_separation_model(path)
    x = torch.randn(1, 2, 5000) * 0.1
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert loaded.window_seconds == 3.0 and loaded.targets == ("bass", "drums", "other", "vocals")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable checkpoint"):
        load_separation_model(tmp_path / "junk.pt")
    with pytest.raises(InputError, match="no such model file"):
        load_separation_model(tmp_path / "missing.pt")


def test_registered_checkpoint_loads_by_name_checks_its_digest_and_stays_in_its_family(tmp_path, monkeypatch):
    from songscope.key.checkpoint import load_key_model
    from songscope.models import CATALOG, ModelEntry, sha256_of
    from songscope.separation.api import load_separator

    torch.manual_seed(0)
    model = _tiny_unet().eval()
    path = save_separation_model(model, tmp_path / "tiny_unet.pt")
    monkeypatch.setitem(CATALOG, "tiny-unet", ModelEntry("tiny-unet", "unet", "separation", "tiny_unet.pt",
                                                         sha256_of(path), None, "a test model"))
    monkeypatch.setenv("SONGSCOPE_MODEL_DIR", str(tmp_path))
    separator = load_separator("tiny-unet", "cpu")
    x = np.random.default_rng(4).standard_normal((2, 4096)).astype(np.float32) * 0.1
    with torch.no_grad():
        assert np.array_equal(separator.run(x), model(torch.from_numpy(x)[None])[0].numpy())
    with pytest.raises(InputError, match="'tiny-unet' is a separation model; this needs a key model"):
        load_key_model("tiny-unet")  # a key command does not take a separation model's name
    save_separation_model(_tiny_unet("lstm"), path)  # the file changes under the registered name
    with pytest.raises(InputError, match="sha256"):
        load_separation_model("tiny-unet")


HPARAMS = """model:
  sr: 44100
  n_fft: 2048
  bandsplits:
    - [ 1000, 100 ]
    - [ 4000, 250 ]
    - [ 8000, 500 ]
    - [ 16000, 1000 ]
    - [ 20000, 2000 ]
  t_timesteps: 263
  bottleneck_layer: 'rnn'
  fc_dim: 16
  rnn_dim: 16
  rnn_type: "LSTM"
  bidirectional: True
  num_layers: 1
  mlp_dim: 32
  return_mask: False
  complex_as_channel: True
  is_mono: False
featurizer:
  direct_transform:
    _target_: torchaudio.transforms.Spectrogram
    n_fft: 2048
    win_length: 2048
    hop_length: 512
    power: null
audio_params:
  target: 'vocals'
  sr: 44100
  win_size: 3
  hop_size: 0.5
"""


def _public_layout_checkpoint(folder):
    """A checkpoint in the public implementation's layout, built from a random model."""
    pytest.importorskip("yaml")
    import yaml

    from songscope.models.converters.bsrnn_lightning import bsrnn_config_from_hparams

    config = bsrnn_config_from_hparams(yaml.safe_load(HPARAMS))
    torch.manual_seed(1)
    reference = build_model("bsrnn", config).eval()
    state = {}
    for key, value in reference.net.state_dict().items():
        state["model." + key.replace("maskest.vocals.", "maskest.")] = value
    state["featurizer.window"] = torch.hann_window(2048)
    ckpt = folder / "saved_models" / "vocals"
    ckpt.mkdir(parents=True)
    (ckpt / "hparams.yaml").write_text(HPARAMS)
    (ckpt / "checkpoints").mkdir()
    path = ckpt / "checkpoints" / "epoch=9.ckpt"
    torch.save({"state_dict": state, "pytorch-lightning_version": "1.9.0", "epoch": 9}, path)
    return path, reference, state


def test_public_bsrnn_lightning_checkpoint_loads(tmp_path):
    path, reference, state = _public_layout_checkpoint(tmp_path)
    # the names and shapes of the public implementation's modules
    assert state["model.bandsplit.layernorms.0.weight"].shape == (20, 263)  # 5 bins x 2 ch x re/im, 263 frames
    assert state["model.bandsplit.fcs.0.weight"].shape == (16, 20)
    assert state["model.bandsequence.bsrnn.0.0.groupnorm.weight"].shape == (16,)
    assert state["model.maskest.layernorms.0.weight"].shape == (263, 16)
    assert state["model.maskest.mlp.0.mlp.3.linear.weight"].shape == (40, 20)
    assert len([k for k in state if k.startswith("model.bandsplit.fcs.") and k.endswith("weight")]) == 41
    model = load_separation_model(path)
    assert model.targets == ("vocals",) and model.required_window() == 262 * 512
    x = torch.randn(1, 2, 262 * 512) * 0.1
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))
        with pytest.raises(ValueError, match="263 frames"):
            model(x[..., :100000])
    (path.parent.parent / "hparams.yaml").write_text(HPARAMS.replace("fc_dim: 16", "fc_dim: 24"))
    with pytest.raises(InputError, match="weights do not match the stored settings"):
        load_separation_model(path)


def test_legacy_mask_layout_reads_values_as_the_public_code():
    from songscope.separation.bsrnn import BSRNNConfig, MaskEstimation

    config = BSRNNConfig(bands=((16000, 8000),), n_fft=16, sample_rate=32000, fc_dim=3, mlp_dim=4,
                         legacy_mask_layout=True, chunk_frames=5)
    head = MaskEstimation(config)
    x = torch.randn(1, len(config.edges()), 5, 3)
    out = head(x)
    raw = head.mlp[0](head.layernorms[0](x[:, 0]))  # (1, T, C*2*bw)
    bw = config.edges()[0][1] - config.edges()[0][0]
    expected = torch.view_as_complex(raw.reshape(1, 2, 2, bw, 5).permute(0, 1, 3, 4, 2).contiguous())
    assert torch.equal(out[:, :, :bw], expected)


def _tiny_corpus(root, tracks=3, seconds=2.0):
    """Multitrack folders: a bass sine, noise-burst drums, a chord and a vibrato lead."""
    rng = np.random.default_rng(5)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    for split in ("train", "test"):
        for i in range(tracks):
            f0 = 110 * 2 ** (rng.integers(0, 12) / 12)
            stems = {"bass": 0.3 * np.sin(2 * np.pi * f0 / 2 * t),
                     "drums": np.concatenate([rng.standard_normal(2000) * np.exp(-np.arange(2000) / 200),
                                              np.zeros(SR // 4 - 2000)] * int(np.ceil(n / (SR // 4))))[:n] * 0.5,
                     "other": 0.1 * sum(np.sin(2 * np.pi * f0 * r * t) for r in (2, 2.52, 3)),
                     "vocals": 0.2 * np.sin(2 * np.pi * f0 * 4 * t + 3 * np.sin(2 * np.pi * 5 * t))}
            folder = root / split / f"track{i}"
            folder.mkdir(parents=True)
            for name, wave in stems.items():
                sf.write(folder / f"{name}.wav", np.stack([wave, 0.8 * wave], axis=1), SR, subtype="FLOAT")
    return root


def test_training_lowers_the_validation_loss(tmp_path):
    from songscope.separation.training import SeparationTrainConfig, train_separation_model
    from songscope.train import TrainConfig

    data = _tiny_corpus(tmp_path / "data")
    config = SeparationTrainConfig(
        family="unet", data=str(data), chunk_seconds=0.75, batch_size=4, validation_chunks=4,
        model=dict(n_fft=512, hop=128, num_bins=64, hidden=8, depth=2),
        loss={"l1": 1.0, "mrstft": 0.1}, loss_truncation=0.25,
        train=TrainConfig(steps=40, lr=3e-3, warmup=5, val_every=20, log_every=10, out_dir=str(tmp_path / "run")))
    result, exported = train_separation_model(config, progress=False)
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    values = [dict(zip(header, r.split(","))) for r in rows[1:]]
    val = [float(v["val/loss"]) for v in values if v.get("val/loss")]
    assert len(val) == 2 and val[-1] < val[0]
    first = load_separation_model(tmp_path / "run" / "best.pt")  # training checkpoints load too
    assert first.targets == ("bass", "drums", "other", "vocals")
    assert exported.is_file() and load_separation_model(exported).window_seconds == 8.0
    snaps = sorted((tmp_path / "run" / "snapshots").iterdir())
    assert [p.name for p in snaps] == ["step_0000020", "step_0000040"]
    assert (snaps[-1] / "vocals.wav").is_file() and (snaps[-1] / "spectrograms.png").is_file()


def test_train_config_errors(tmp_path):
    from songscope.separation.training import SeparationTrainConfig

    with pytest.raises(InputError, match="unknown loss"):
        SeparationTrainConfig(family="unet", data=".", loss={"hinge": 1.0})
    bad = tmp_path / "c.toml"
    bad.write_text('family = "unet"\ndata = "nowhere"\nsteps = 3\n')
    with pytest.raises(InputError, match="steps"):
        SeparationTrainConfig.load(bad)


def _write(path, data, sr, subtype="PCM_16"):
    sf.write(path, np.asarray(data).T if np.ndim(data) == 2 else data, sr, subtype=subtype)
    return path


def test_cli_separate_handles_odd_inputs_and_goes_on_past_bad_files(tmp_path, cli):
    rng = np.random.default_rng(0)
    t = np.arange(5 * SR) / SR
    song = 0.2 * np.sin(2 * np.pi * 82 * t) + 0.05 * rng.standard_normal(t.size)
    inputs = tmp_path / "in"
    inputs.mkdir()
    _write(inputs / "stereo5s.wav", np.stack([song, song]), SR)
    _write(inputs / "mono.wav", song, SR)
    t8 = np.arange(3 * 8000) / 8000
    _write(inputs / "lowrate.wav", 0.3 * np.sin(2 * np.pi * 220 * t8), 8000)
    _write(inputs / "silence.wav", np.zeros((2, SR)), SR)
    (inputs / "broken.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}
    res = cli("separate", inputs, "-o", tmp_path / "out", "--exact-sum", "--format", "wav32")
    assert res.code == 1 and "Traceback" not in res.err
    assert "2 of 5 files failed" in res.err and "silence" in res.err and "broken.wav" in res.err
    stereo = {s: sf.read(tmp_path / "out" / "stereo5s" / f"{s}.wav")[0] for s in ("bass", "drums", "other", "vocals")}
    assert stereo["bass"].shape == (5 * SR, 2)
    assert np.max(np.abs(sum(stereo.values()) - np.stack([song, song], 1))) < 1e-4
    mono, sr = sf.read(tmp_path / "out" / "mono" / "vocals.wav")
    assert mono.ndim == 1 and sr == SR
    low, sr = sf.read(tmp_path / "out" / "lowrate" / "bass.wav")
    assert sr == SR and abs(low.shape[0] - 3 * SR) <= 1
    assert not (tmp_path / "out" / "silence").exists() or not any((tmp_path / "out" / "silence").iterdir())
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before  # inputs untouched
    one = cli("separate", inputs / "silence.wav", "-o", tmp_path / "out2")
    assert one.code != 0 and one.err.count("\n") == 1 and "digital silence" in one.err
    two = cli("separate", inputs / "stereo5s.wav", "-o", tmp_path / "out3", "--two-stems", "vocals")
    assert two.code == 0
    vocals = sf.read(tmp_path / "out3" / "stereo5s" / "vocals.wav")[0]
    rest = sf.read(tmp_path / "out3" / "stereo5s" / "no_vocals.wav")[0]
    assert np.max(np.abs(vocals + rest - np.stack([song, song], 1))) < 1e-3
    assert cli("separate", inputs / "mono.wav", "--stems", "piano").code == 2
    assert cli("separate", inputs / "mono.wav", "-m", tmp_path / "nope.pt").code == 2


def test_analyze_demix_keeps_stems_only_with_k(tmp_path, cli, short_song_file, monkeypatch):
    song_file = short_song_file
    monkeypatch.chdir(tmp_path)
    res = cli("analyze", song_file, "--demix", "-k", "-o", tmp_path / "struct", "-q", "--no-multiprocess")
    assert res.code == 0, res.err
    stems = sorted(p.name for p in (tmp_path / "demix" / "song").iterdir())
    assert stems == ["bass.wav", "drums.wav", "other.wav", "vocals.wav"]
    res = cli("analyze", song_file, "--demix", "--demix-dir", tmp_path / "d2", "-o", tmp_path / "s2", "-q",
              "--no-multiprocess")
    assert res.code == 0 and (tmp_path / "s2" / "song.json").is_file() and not (tmp_path / "d2").exists()
    bad = cli("analyze", song_file, "--demix", tmp_path / "none.pt", "-o", tmp_path / "s3")
    assert bad.code == 2 and "none.pt" in bad.err


def test_analyze_checks_every_model_of_a_combined_demix(tmp_path):
    from songscope.pipeline import AnalyzeOptions, load_engines

    vocals = save_separation_model(_tiny_unet(), tmp_path / "vocals.pt")
    drums = save_separation_model(_tiny_unet(), tmp_path / "drums.pt")
    engines = load_engines(AnalyzeOptions(demix_model=f"{vocals},{drums}"))  # per-stem models, as `separate -m`
    assert engines.demix.targets == ("bass", "drums", "other", "vocals")
    with pytest.raises(InputError, match="missing.pt"):
        load_engines(AnalyzeOptions(demix_model=f"{vocals},{tmp_path / 'missing.pt'}"))


def test_python_api_separate_audio_two_stems():
    import songscope

    t = np.arange(3 * SR) / SR
    mix = np.stack([0.3 * np.sin(2 * np.pi * 60 * t), 0.3 * np.sin(2 * np.pi * 60 * t)]).astype(np.float32)
    out = songscope.separate_audio(mix, SR, options=songscope.separation.SeparateOptions(two_stems="bass"))
    assert set(out) == {"bass", "no_bass"}
    assert np.max(np.abs(out["bass"] + out["no_bass"] - mix)) < 1e-5
    assert np.sum(out["bass"] ** 2) > 0.9 * np.sum(mix ** 2)


def test_stem_mp4_tracks_are_decoded_once_in_musdb_stream_order(tmp_path):
    import shutil
    import subprocess

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (scripts/system-deps.sh installs it)")
    t = np.arange(SR) / SR
    freqs = {"mixture": 0, "drums": 200, "bass": 50, "other": 400, "vocals": 800}  # MUSDB stream order
    args = ["ffmpeg", "-v", "error"]
    for name, f in freqs.items():
        path = tmp_path / f"{name}.wav"
        sf.write(path, np.stack([0.3 * np.sin(2 * np.pi * f * t)] * 2, 1), SR)
        args += ["-i", str(path)]
    root = tmp_path / "musdb"
    root.mkdir()
    for i in range(5):
        args += ["-map", str(i)]
    subprocess.run(args + ["-c:a", "flac", "-strict", "-2", str(root / "song.stem.mp4")], check=True)
    from songscope.separation.data import find_tracks

    (track,) = find_tracks(root, cache=tmp_path / "cache")
    for stem in ("bass", "drums", "other", "vocals"):
        wave = track.read(stem, 0, SR)[0]
        peak = np.argmax(np.abs(np.fft.rfft(wave)))
        assert peak == freqs[stem], stem
    assert find_tracks(root, cache=tmp_path / "cache")[0].files == track.files  # cached, not decoded again


def test_per_stem_models_combine_into_one_engine(tmp_path):
    from songscope.separation.api import load_separator

    torch.manual_seed(0)
    vocal_model = _tiny_bsrnn(targets=("vocals",)).eval()
    bass_model = _tiny_bsrnn(targets=("bass", "vocals")).eval()
    a = save_separation_model(vocal_model, tmp_path / "v.pt")
    b = save_separation_model(bass_model, tmp_path / "b.pt")
    combined = load_separator(f"{b},{a}", "cpu")
    assert combined.targets == ("bass", "vocals")
    x = (np.random.default_rng(0).standard_normal((2, 4000)) * 0.1).astype(np.float32)
    out = combined.run(x)
    with torch.no_grad():
        expected_vocals = vocal_model(torch.from_numpy(x)[None])[0, 0].numpy()
        expected_bass = bass_model(torch.from_numpy(x)[None])[0, 0].numpy()
    assert np.allclose(out[1], expected_vocals, atol=1e-6) and np.allclose(out[0], expected_bass, atol=1e-6)


def test_musdb_style_folders_are_one_track_each(cli, tmp_path):
    """A folder with mixture + stems is one track named after the folder: `separate` separates the
    mixture only, `evaluate separation` pairs it with the reference by that name, `analyze` too."""
    t = np.arange(3 * SR) / SR
    root = tmp_path / "corpus" / "test"
    for name, f in (("first", 110.0), ("second", 220.0)):
        stems = {"bass": 0.3 * np.sin(2 * np.pi * f / 2 * t), "drums": 0.1 * np.sign(np.sin(2 * np.pi * 2 * t)),
                 "other": 0.1 * np.sin(2 * np.pi * f * 3 * t), "vocals": 0.1 * np.sin(2 * np.pi * f * 4 * t)}
        folder = root / name
        folder.mkdir(parents=True)
        for stem, wave in {**stems, "mixture": sum(stems.values())}.items():
            sf.write(folder / f"{stem}.wav", np.stack([wave, wave], axis=1), SR, subtype="FLOAT")
    res = cli("separate", tmp_path / "corpus", "-o", tmp_path / "separated", "-q")
    assert res.code == 0, res.err
    assert sorted(p.name for p in (tmp_path / "separated").iterdir()) == ["first", "second"]
    assert sorted(p.name for p in (tmp_path / "separated" / "first").iterdir()) == [
        "bass.wav", "drums.wav", "other.wav", "vocals.wav"]
    scored = cli("evaluate", "separation", root, tmp_path / "separated", "--json")
    assert scored.code == 0 and json.loads(scored.out)["tracks"] == 2, scored.err
    analyzed = cli("analyze", tmp_path / "corpus", "-o", tmp_path / "struct", "-q", "--no-multiprocess")
    assert analyzed.code == 0 and sorted(p.name for p in (tmp_path / "struct").iterdir()) == [
        "first.json", "second.json"]
