"""The family contract: one registry behind every command's -m, the one checkpoint container
read without unpickling code, converters for files songscope 0.1 wrote, and a toy family that
works through analyze / key / separate / train / the Python API without touching cli.py or
pipeline.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")

import songscope  # noqa: E402
from songscope.audio import Audio, load_mono  # noqa: E402
from songscope.errors import CheckpointError, ConfigError  # noqa: E402
from songscope.models import load_engine, register_family, unregister_family  # noqa: E402
from songscope.models.container import Checkpoint, save_checkpoint  # noqa: E402
from songscope.models.converters import read_checkpoint  # noqa: E402

from . import toy_family  # noqa: E402
from .conftest import SR, STONE_DIR, need  # noqa: E402

LEGACY = Path(__file__).parent / "fixtures" / "legacy_v0.1"


@pytest.fixture
def toy():
    """The toy families registered for one test."""
    for family in toy_family.FAMILIES:
        register_family(family)
    yield
    for family in toy_family.FAMILIES:
        unregister_family(family.task, family.name)


def _clicks(path: Path, seconds: float = 6.0, bpm: float = 120.0) -> Path:
    """A click track (a 1 kHz burst on every beat) with a quiet A-major chord under it."""
    t = np.arange(int(seconds * SR)) / SR
    x = 0.005 * sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.18, 329.63))
    for beat in np.arange(0.5, seconds - 0.1, 60.0 / bpm):
        n = int(beat * SR)
        burst = np.sin(2 * np.pi * 1000 * t[:800]) * np.exp(-t[:800] / 0.01)
        x[n:n + 800] += 0.8 * burst
    sf.write(path, x.astype(np.float32), SR)
    return path


def test_legacy_key_model_reproduces_its_outputs():
    from songscope.key.checkpoint import load_key_model

    model, labels = load_key_model(LEGACY / "key_model.pt")
    t = np.arange(22050 * 4) / 22050
    x = sum(np.sin(2 * np.pi * f * t + f) / (1 + i) for i, f in enumerate((196.0, 261.6, 329.6, 392.0, 1234.5)))
    with torch.no_grad():
        probs = model.probabilities(torch.from_numpy(x.astype(np.float32))[None, None]).numpy()
    expected = np.load(LEGACY / "outputs.npz")["key_probabilities"]
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    assert len(labels) == 24 and labels[12:].count("C major") == 1


@pytest.mark.parametrize("name, key", [("separation_unet", "unet_output"), ("separation_bsrnn", "bsrnn_output")])
def test_legacy_separation_models_reproduce_their_outputs(name, key):
    from songscope.separation.model import load_separation_model

    model = load_separation_model(LEGACY / f"{name}.pt")
    n = np.arange(8820) / 44100
    wave = np.stack([np.sin(2 * np.pi * 110 * n) + 0.5 * np.sin(2 * np.pi * 3001 * n),
                     np.cos(2 * np.pi * 220 * n) - 0.3 * np.sin(2 * np.pi * 5003 * n)])[None].astype(np.float32)
    with torch.no_grad():
        out = model(torch.from_numpy(wave)).numpy()[..., ::7]
    np.testing.assert_allclose(out, np.load(LEGACY / "outputs.npz")[key], atol=1e-5)
    assert model.window_seconds == 2.0


def test_legacy_training_checkpoint_loads_as_a_model_and_resumes(tmp_path):
    from songscope.separation.model import load_separation_model, separation_model_from_checkpoint
    from songscope.train import TrainConfig
    from songscope.train.loop import train_loop

    last = read_checkpoint(LEGACY / "training_last.pt")
    assert last.family == "unet" and last.training["step"] == 3 and last.songscope_version == "0.1"
    exported = load_separation_model(LEGACY / "training_export.pt")
    x = torch.randn(1, 2, 6000) * 0.1
    with torch.no_grad():
        assert torch.equal(load_separation_model(LEGACY / "training_last.pt")(x), exported(x))
    # the shared loop resumes from it: step 3 -> 5, with the saved optimiser state
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes((LEGACY / "training_last.pt").read_bytes())
    model = separation_model_from_checkpoint(last)
    batches = [(torch.randn(2, 2, 4000) * 0.1, torch.randn(2, 4, 2, 4000) * 0.1) for _ in range(5)]

    def loss(m, batch):
        value = (m(batch[0]) - batch[1]).abs().mean()
        return value, {}

    result = train_loop(model, batches, loss, lambda m: {"loss": loss(m, batches[0])[0].item()},
                        TrainConfig(steps=5, val_every=1, out_dir=str(run)), "unet", last.config)
    assert result.step == 5 and read_checkpoint(run / "last.pt").training["step"] == 5


def test_container_round_trip_and_newer_layouts_are_refused(tmp_path):
    state = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    path = save_checkpoint(Checkpoint("toy", {"kernel": 3, "sizes": [1, 2]}, state, ("a", "b"), {"note": "x"}),
                           tmp_path / "c.pt")
    back = read_checkpoint(path)
    assert (back.family, back.config, back.labels, back.metadata) == ("toy", {"kernel": 3, "sizes": [1, 2]},
                                                                       ("a", "b"), {"note": "x"})
    assert torch.equal(back.state_dict["w"], state["w"]) and back.songscope_version == songscope.__version__
    payload = torch.load(path, weights_only=True)
    payload["songscope_checkpoint"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="newer than this songscope reads"):
        read_checkpoint(tmp_path / "future.pt")


class _Exploit:
    """Unpickling this would create a marker file (what a malicious model file does)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("template", [
    "analyze SONG -m EVIL -o OUT", "analyze SONG --key-model EVIL -o OUT", "analyze SONG --demix EVIL -k -o OUT",
    "key SONG -m EVIL", "separate SONG -m EVIL -o OUT", "models info EVIL",
])
def test_a_hostile_pickle_is_refused_and_runs_no_code(tmp_path, short_song_file, template, cli):
    from .conftest import run_console

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": _Exploit(marker)}, evil)
    places = {"SONG": short_song_file, "EVIL": evil, "OUT": tmp_path / "out"}
    args = [places.get(word, word) for word in template.split()]
    if template.startswith("analyze SONG -m"):  # once as a separate process: exit status and stderr as users see them
        run = run_console(*args, cwd=tmp_path)
        code, err = run.returncode, run.stderr
    else:
        run = cli(*args)
        code, err = run.code, run.err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "refused: it would call posix.system" in lines[0], err
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_names_paths_and_tasks_resolve_the_same_way_everywhere(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="no such model file, and not a structure model name"):
        load_engine("structure", "nonsense")
    with pytest.raises(ConfigError, match="'stone24' is a key model; this needs a structure model"):
        load_engine("structure", "stone24")
    with pytest.raises(ConfigError, match="'harmonix-fold0' is a structure model; this needs a key model"):
        load_engine("key", "harmonix-fold0")
    key_file = LEGACY / "key_model.pt"
    with pytest.raises(ConfigError, match="a key model \\(stone\\); this needs a separation model"):
        load_engine("separation", str(key_file))
    with pytest.raises(ConfigError, match="cannot be combined"):
        load_engine("structure", "classic,classic")
    with pytest.raises(ConfigError, match="unknown device"):
        load_engine("key", "classic", device="tpu")
    both = load_engine("key", f"{key_file},{key_file}", "cpu")
    single = load_engine("key", str(key_file), "cpu")
    audio = Audio.from_array(np.sin(2 * np.pi * 440 * np.arange(SR * 4) / SR), SR)
    a, b = both.predict(audio), single.predict(audio)
    assert a.key == b.key and a.confidence == pytest.approx(b.confidence, abs=1e-6)


def test_models_command_lists_inspects_and_converts(cli, tmp_path):
    listing = cli("models")
    assert listing.code == 0 and "family stone, trainable" in listing.out and "-m stone24" in listing.out
    info = cli("models", "info", LEGACY / "separation_bsrnn.pt")
    assert info.code == 0 and "family bsrnn" in info.out and "songscope 0.1" in info.out
    converted = cli("models", "convert", LEGACY / "training_last.pt", tmp_path / "model.pt")
    assert converted.code == 0
    checkpoint = read_checkpoint(tmp_path / "model.pt")
    assert checkpoint.training is None and checkpoint.family == "unet"
    assert cli("models", "convert", LEGACY / "training_last.pt").code == 2


def test_official_stone_file_converts_with_what_it_left_out(cli, tmp_path):
    source = need(STONE_DIR / "semitone_ks.pt")
    result = cli("models", "convert", source, tmp_path / "stone12.pt")
    assert result.code == 0 and "left out the training state (optimizer" in result.err
    checkpoint = read_checkpoint(tmp_path / "stone12.pt")
    assert checkpoint.family == "stone" and checkpoint.labels[2] == "C major/A minor"
    assert checkpoint.metadata["gin_info"][0].startswith("import")


def test_a_toy_family_works_through_every_command_and_the_api(toy, tmp_path, cli):
    """Registered in this test only: nothing in cli.py or pipeline.py names it."""
    data = tmp_path / "clicks"
    data.mkdir()
    for i, bpm in enumerate((100.0, 120.0, 140.0)):
        _clicks(data / f"c{i}.wav", bpm=bpm)
    config = tmp_path / "toy.toml"
    config.write_text('data = "nowhere"\nkernel = 5\n[train]\nsteps = 40\nlr = 0.05\nwarmup = 2\nval_every = 20\n')
    trained = cli("train", "toy", "--config", config, "--data", data, "--out-dir", tmp_path / "run", "-q")
    assert trained.code == 0, trained.err
    model = tmp_path / "run" / "model.pt"
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert read_checkpoint(model).family == "toy" and len(rows) > 2

    song = _clicks(tmp_path / "song.wav", seconds=8.0, bpm=120.0)
    analyzed = cli("analyze", song, "-m", model, "-a", "-e", "-o", tmp_path / "res", "-q", "--no-multiprocess")
    assert analyzed.code == 0, analyzed.err
    result = json.loads((tmp_path / "res" / "song.json").read_text())
    assert result["engine"] == str(model) and result["segments"][0]["label"] == "verse"
    assert np.allclose(np.diff(result["beats"]), 0.5, atol=0.02) and len(result["beats"]) >= 14
    assert np.load(tmp_path / "res" / "song.embed.npy").shape[:2] == (1, len(np.load(
        tmp_path / "res" / "song.activ.npz")["beat"]))

    weight = torch.zeros(12, 24)
    for tonic in range(12):
        weight[tonic, tonic] = 1.0  # pitch class -> its major key
    save_checkpoint(Checkpoint("toykey", {}, {"weight": weight}), tmp_path / "key.pt")
    keyed = cli("key", song, "-m", tmp_path / "key.pt")
    assert keyed.code == 0 and json.loads(keyed.out)["key"] == "A major"
    assert songscope.estimate_key(song, model=str(tmp_path / "key.pt")).key == "A major"

    save_checkpoint(Checkpoint("toysep", {}, {"gains": torch.tensor([0.1, 0.2, 0.3, 0.4])}), tmp_path / "sep.pt")
    separated = cli("separate", song, "-m", tmp_path / "sep.pt", "-o", tmp_path / "stems", "-q")
    assert separated.code == 0, separated.err
    vocals, rate = sf.read(tmp_path / "stems" / "song" / "vocals.wav")
    mono = load_mono(song, rate)[0]
    assert rate == toy_family.RATE and np.allclose(vocals, 0.4 * mono, atol=2e-3)
    stems = songscope.separate_audio(mono, rate, model=str(tmp_path / "sep.pt"))
    assert np.allclose(stems["bass"], 0.1 * mono, atol=1e-5)

    api = songscope.analyze(song, model=str(model), key_model=str(tmp_path / "key.pt"))
    assert api.key == "A major" and api.beats == result["beats"]
    trained_api, path = songscope.train_model("toy", config, data=data, out_dir=tmp_path / "run2", steps=3)
    assert trained_api.step == 3 and path.is_file()


def test_analyze_decodes_each_file_once(short_song_file, tmp_path, monkeypatch, cli):
    from songscope.audio import signal

    song_file = short_song_file
    calls = []
    real = signal.iter_blocks

    def counting(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(signal, "iter_blocks", counting)
    result = cli("analyze", song_file, "-o", tmp_path / "o", "-a", "--jams", "-v", "--viz-dir", tmp_path / "v",
                 "-s", "--sonif-dir", tmp_path / "s", "--demix", "-k", "--demix-dir", tmp_path / "d",
                 "--spec-dir", tmp_path / "f", "-q", "--no-multiprocess")
    assert result.code == 0, result.err
    assert calls == [song_file]
    assert (tmp_path / "d" / "song" / "vocals.wav").is_file() and (tmp_path / "s" / "song.sonif.wav").is_file()
