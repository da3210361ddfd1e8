"""``songscope analyze`` and the Python API end to end: outputs, batches, and every bad input."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
import soundfile as sf

import songscope
from songscope import AnalysisResult, load_result
from songscope.errors import BatchError
from songscope.errors import AudioError, InputError

from .conftest import SR, run_console, write_tone


def _one_line_error(res) -> str:
    assert res.code != 0
    lines = [line for line in res.err.splitlines() if line.strip()]
    assert len(lines) == 1, res.err
    assert "Traceback" not in res.err
    return lines[0]


def test_analyze_writes_allin1_json_and_extras(cli, song_file, song44, tmp_path):
    out = tmp_path / "struct"
    res = cli("analyze", song_file, "-o", out, "-a", "--jams", "--audacity", "-q")
    assert res.code == 0, res.err
    result = load_result(out / "song.json")
    song = song44[0]
    assert result.time_signature == "4/4" and result.key == song.key
    assert result.bpm == round(song.tempo)
    assert len(result.beats) == len(result.beat_positions)
    activ = np.load(out / "song.activ.npz")
    frames = int(np.ceil(result.duration * 100))
    assert activ["beat"].shape == activ["downbeat"].shape == activ["segment"].shape == (frames,)
    assert activ["label"].shape == (10, frames)
    assert (out / "song.jams").exists() and (out / "song.labels.txt").exists()
    assert not list(out.glob("*.part*"))


def test_figure_click_track_and_byproducts(cli, song_file, song44, tmp_path):
    res = cli("analyze", song_file, "-o", tmp_path / "s", "-v", "--viz-dir", tmp_path / "viz", "--viz-format", "png",
              "-s", "--sonif-dir", tmp_path / "son", "-k", "--spec-dir", tmp_path / "spec", "-e", "-q")
    assert res.code == 0, res.err
    assert "no embeddings" in res.err
    png = (tmp_path / "viz" / "song.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    sonif, sr = sf.read(tmp_path / "son" / "song.sonif.wav")
    original, _ = sf.read(song_file)
    assert sr == SR and len(sonif) == len(original)
    # a click lands on every beat: the difference signal has energy right after each beat
    result = load_result(tmp_path / "s" / "song.json")
    diff = sonif / np.max(np.abs(sonif)) - 0.7 * original / np.max(np.abs(sonif))
    hits = [np.abs(diff[int(b * sr): int(b * sr) + 200]).max() for b in result.beats[:20]]
    gaps = [np.abs(diff[int((b + 0.25) * sr): int((b + 0.25) * sr) + 200]).max() for b in result.beats[:20]]
    assert np.median(hits) > 5 * np.median(gaps)
    spec = np.load(tmp_path / "spec" / "song.features.npz")
    assert spec["chroma"].shape[1] == 12


@pytest.mark.parametrize("case", ["missing", "empty_dir", "empty_file", "truncated", "not_audio", "too_short",
                                  "silence"])
def test_bad_inputs_give_one_line_and_nonzero_exit(cli, tmp_path, case):
    if case == "missing":
        target = tmp_path / "nothing.wav"
    elif case == "empty_dir":
        target = tmp_path / "folder"
        target.mkdir()
        (target / "readme.txt").write_text("no audio here")
    elif case == "empty_file":
        target = tmp_path / "empty.wav"
        target.write_bytes(b"")
    elif case == "truncated":
        good = write_tone(tmp_path / "good.wav", seconds=3.0)
        target = tmp_path / "cut.wav"
        target.write_bytes(good.read_bytes()[:30000])
    elif case == "not_audio":
        target = tmp_path / "photo.flac"
        target.write_bytes(bytes(range(256)) * 40)
    elif case == "too_short":
        target = write_tone(tmp_path / "blip.wav", seconds=0.1)
    else:
        target = tmp_path / "silence.wav"
        sf.write(target, np.zeros(SR * 5), SR)
    res = cli("analyze", target, "-o", tmp_path / "out", "-q")
    line = _one_line_error(res)
    assert line.startswith("songscope: error:")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_console_script_has_no_traceback(tmp_path):
    proc = run_console("analyze", tmp_path / "missing.mp3", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"songscope: error: {tmp_path / 'missing.mp3'}: no such file or directory"


@pytest.mark.parametrize("channels,sr", [(8, 22050), (2, 192000)])
def test_many_channels_and_high_rates_are_analyzed(cli, tmp_path, song44, channels, sr):
    import soxr
    mix = song44[1]["mixture"][: SR * 20]
    data = soxr.resample(mix, SR, sr) if sr != SR else mix
    path = tmp_path / f"wide_{channels}ch_{sr}.wav"
    sf.write(path, np.repeat(data[:, None], channels, axis=1) / channels ** 0.5, sr, subtype="PCM_24")
    res = cli("analyze", path, "-o", tmp_path / "out", "-q")
    assert res.code == 0, res.err
    result = load_result(tmp_path / "out" / f"{path.stem}.json")
    assert result.bpm == round(song44[0].tempo)


def test_batch_goes_on_past_bad_files_and_names_do_not_collide(cli, tmp_path, song_file):
    lib = tmp_path / "library"
    for sub in ("a", "b", "ä ö"):
        (lib / sub).mkdir(parents=True)
        shutil.copy(song_file, lib / sub / "track.wav")
    (lib / "a" / "broken.mp3").write_text("not audio")
    write_tone(lib / "b" / "short.wav", seconds=0.2)
    res = cli("analyze", lib, "-o", tmp_path / "out", "--no-multiprocess", "-q")
    assert res.code == 1
    assert "2 of 5 files failed" in res.err
    assert "broken.mp3" in res.err and "short.wav" in res.err
    jsons = sorted(p.name for p in (tmp_path / "out").glob("*.json"))
    assert len(jsons) == 3 and all(name.startswith("track.") for name in jsons)
    paths = {load_result(tmp_path / "out" / name).path for name in jsons}
    assert len(paths) == 3


def test_parallel_batch_and_skip_existing(cli, tmp_path, song_file):
    for i in range(2):
        shutil.copy(song_file, tmp_path / f"s{i}.wav")
    out = tmp_path / "out"
    res = cli("analyze", tmp_path / "s0.wav", tmp_path / "s1.wav", "-o", out, "-j", "2", "-q")
    assert res.code == 0, res.err
    first = (out / "s0.json").stat().st_mtime_ns
    (tmp_path / "s0.wav").unlink()  # a reused result must not need its audio again
    res = cli("analyze", tmp_path / "s1.wav", "-o", out, "--skip-existing", "-q")
    assert res.code == 0
    assert (out / "s0.json").stat().st_mtime_ns == first


def test_flags_are_validated(cli, song_file, tmp_path, monkeypatch):
    monkeypatch.setenv("SONGSCOPE_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SONGSCOPE_MODEL_DIR", raising=False)
    assert "harmonix-fold0" in _one_line_error(cli("analyze", song_file, "-m", "harmonix-all", "-o", tmp_path))
    assert "tempo range" in _one_line_error(cli("analyze", song_file, "--min-bpm", "200", "--max-bpm", "100"))
    assert "device" in _one_line_error(cli("analyze", song_file, "-d", "tpu"))
    with pytest.raises(SystemExit):
        cli("analyze", song_file, "--meters", "0,4")


def test_python_api_mirrors_allin1(song_file, tmp_path):
    result = songscope.analyze(song_file, out_dir=tmp_path / "o", include_activations=True)
    assert isinstance(result, AnalysisResult)
    assert result.activations["label"].shape[0] == 10
    assert load_result(tmp_path / "o" / "song.json") == result
    many = songscope.analyze([song_file], multiprocess=False)
    assert isinstance(many, list) and many[0].beats == result.beats
    fig = songscope.visualize(result)
    assert len(fig.axes) == 2
    audio, sr = songscope.sonify(result, out_dir=tmp_path / "son")
    assert sr == SR and audio.shape[0] == 1 and (tmp_path / "son" / "song.sonif.wav").exists()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        songscope.analyze(song_file, include_embeddings=True)
    assert any("no embeddings" in str(w.message) for w in caught)


def test_python_api_errors(tmp_path, song_file):
    with pytest.raises(InputError):
        songscope.analyze(tmp_path / "absent.wav")
    short = write_tone(tmp_path / "short.wav", seconds=0.1)
    with pytest.raises(AudioError, match="too short"):
        songscope.analyze(short)
    with pytest.raises(BatchError) as info:
        songscope.analyze([song_file, short], multiprocess=False)
    assert len(info.value.results) == 1 and len(info.value.failures) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kept = songscope.analyze([song_file, short], multiprocess=False, errors="skip")
    assert len(kept) == 1


def test_json_is_valid_utf8_for_non_ascii_paths(cli, tmp_path, song_file):
    folder = tmp_path / "Sigur Rós"
    folder.mkdir()
    target = folder / "Hoppípolla.wav"
    shutil.copy(song_file, target)
    res = cli("analyze", target, "-o", tmp_path / "out", "-q")
    assert res.code == 0, res.err
    data = json.loads((tmp_path / "out" / "Hoppípolla.json").read_text(encoding="utf-8"))
    assert data["path"].endswith("Hoppípolla.wav")


def test_skip_existing_completes_what_an_interrupted_run_left_out(cli, tmp_path, short_song_file):
    out = tmp_path / "out"
    res = cli("analyze", short_song_file, "-o", out, "--jams", "-q")
    assert res.code == 0 and not (out / "song.jams").with_suffix(".labels.txt").exists()
    (out / "song.jams").unlink()  # as a run interrupted between the JSON and the JAMS leaves it
    res = cli("analyze", short_song_file, "-o", out, "--jams", "--skip-existing", "-q")
    assert res.code == 0 and (out / "song.jams").is_file()
    assert "song.jams missing; analysing it again" in res.err
    first = (out / "song.jams").stat().st_mtime_ns
    res = cli("analyze", short_song_file, "-o", out, "--jams", "--skip-existing", "-q")
    assert res.code == 0 and res.err == "" and (out / "song.jams").stat().st_mtime_ns == first


def test_every_command_refuses_a_too_short_clip_the_same_way(cli, tmp_path):
    clip = write_tone(tmp_path / "half.wav", seconds=0.5)
    for args in (["analyze", clip, "-o", tmp_path / "a"], ["key", clip], ["separate", clip, "-o", tmp_path / "s"]):
        line = _one_line_error(cli(*args))
        assert line.startswith(f"songscope: error: {clip}: too short (0.50 s);") and "at least 1.0 s" in line, line
    assert not (tmp_path / "s").exists() and not (tmp_path / "a").exists()


def test_decoder_chatter_never_reaches_the_user(tmp_path):
    """mpg123 prints 'Note: Illegal Audio-MPEG-Header ...' on the process's stderr for a text file
    named .mp3; only songscope's one line may appear (a real process: the C library writes to fd 2)."""
    junk = tmp_path / "notes.mp3"
    junk.write_text("these are not the samples you are looking for\n" * 50)
    run = run_console("analyze", junk, cwd=tmp_path)  # every command decodes through the same function
    assert run.returncode == 3 and run.stderr.splitlines() == [
        f"songscope: error: {junk}: not an audio file (neither libsndfile nor ffmpeg can decode it)"], run.stderr


def test_key_command_writes_into_a_folder_or_a_file_and_runs_in_parallel(cli, tmp_path, short_song_file):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        shutil.copy(short_song_file, folder / f"s{i}.wav")
    serial = cli("key", folder, "--format", "csv", "-o", tmp_path / "keys", "-q")
    assert serial.code == 0 and serial.out == ""
    parallel = cli("key", folder, "--format", "csv", "--output-file", tmp_path / "k.csv", "-j", "2", "-q")
    assert parallel.code == 0
    assert (tmp_path / "keys" / "keys.csv").read_text() == (tmp_path / "k.csv").read_text()
    assert len((tmp_path / "k.csv").read_text().splitlines()) == 4
    both = cli("key", folder, "-o", tmp_path / "x", "--output-file", tmp_path / "y.csv")
    assert "not both" in _one_line_error(both)
