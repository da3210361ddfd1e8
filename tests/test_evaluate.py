"""songscope evaluate: metric wrappers on hand-made cases with known answers, annotation
readers (JAMS, .beats, result JSON, key CSV), and the command on good and bad inputs."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("mir_eval")

from songscope.errors import InputError  # noqa: E402
from songscope.evaluate import (beat_metrics, cover_metrics, evaluate, key_metrics, read_annotations,  # noqa: E402
                                si_sdr, structure_metrics, tempo_metrics, track_name)
from songscope.result import AnalysisResult, Segment, save_jams, save_result  # noqa: E402

BEATS = np.arange(1.0, 31.0, 0.5)  # 120 BPM for 30 s


def test_beat_metrics_known_values():
    perfect = beat_metrics(BEATS, BEATS, BEATS[::4], BEATS[::4])
    assert perfect == {"F": 1.0, "CMLt": 1.0, "AMLt": 1.0, "downbeat_F": 1.0}
    half = beat_metrics(BEATS, BEATS[::2])  # precision 1, recall 1/2
    assert half["F"] == pytest.approx(2 * 0.5 / 1.5)
    double = beat_metrics(BEATS, np.sort(np.concatenate([BEATS, BEATS[:-1] + 0.25])))
    assert double["AMLt"] == 1.0 and double["CMLt"] == 0.0  # right beats at twice the metrical level
    off = beat_metrics(BEATS, BEATS + 0.1)  # outside the 70 ms window everywhere
    assert off["F"] == 0.0


def test_tempo_metrics_known_values():
    assert tempo_metrics(120, 124.7) == {"Acc1": 1.0, "Acc2": 1.0}
    assert tempo_metrics(120, 126) == {"Acc1": 0.0, "Acc2": 0.0}
    assert tempo_metrics(120, 60) == {"Acc1": 0.0, "Acc2": 1.0}
    assert tempo_metrics(100, 300) == {"Acc1": 0.0, "Acc2": 1.0}
    assert tempo_metrics(120, None) == {"Acc1": 0.0, "Acc2": 0.0}


@pytest.mark.parametrize("estimate, weighted, signature", [
    ("C major", 1.0, 1.0), ("G major", 0.5, 0.0), ("A minor", 0.3, 1.0), ("C minor", 0.2, 0.0),
    ("F# major", 0.0, 0.0), ("c:major", 1.0, 1.0)])
def test_key_metrics_follow_mir_eval_weights(estimate, weighted, signature):
    row = key_metrics("C major", estimate)
    assert row["weighted"] == pytest.approx(weighted)
    assert row["exact"] == float(weighted == 1.0) and row["key_signature"] == signature


def test_key_signature_only_estimates():
    row = key_metrics("A minor", "C major/A minor")
    assert row["key_signature"] == 1.0 and np.isnan(row["weighted"]) and np.isnan(row["exact"])
    assert key_metrics("E minor", "C major/A minor")["key_signature"] == 0.0


def test_structure_metrics_known_values():
    ref = np.array([[0.0, 10.0], [10.0, 20.0], [20.0, 30.0]])
    labels = ["verse", "chorus", "verse"]
    assert structure_metrics(ref, labels, ref, labels) == pytest.approx(
        {"HR.5F": 1.0, "HR3F": 1.0, "PWF": 1.0, "Sf": 1.0, "label_accuracy": 1.0})
    swapped = structure_metrics(ref, labels, ref, ["chorus", "verse", "chorus"])
    assert swapped["PWF"] == 1.0 and swapped["label_accuracy"] == 0.0  # same grouping, wrong functions
    shifted = np.array([[0.0, 11.0], [11.0, 21.0], [21.0, 30.0]])
    moved = structure_metrics(ref, labels, shifted, labels)
    assert moved["HR.5F"] == 0.0 and moved["HR3F"] == 1.0
    assert moved["label_accuracy"] == pytest.approx(28 / 30, abs=0.005)  # 2 s of 30 mislabelled


def test_cover_metrics_known_values():
    works = ["a", "a", "b", "b"]
    good = np.array([[0, 1, 5, 5], [1, 0, 5, 5], [5, 5, 0, 1], [5, 5, 1, 0]], float)
    assert cover_metrics(good, works) == {"mAP": 1.0, "MR1": 1.0, "P@10": 0.1}
    bad = np.array([[0, 9, 1, 2], [9, 0, 1, 2], [1, 2, 0, 9], [1, 2, 9, 0]], float)  # partner ranked last
    out = cover_metrics(bad, works, k=2)
    assert out["mAP"] == pytest.approx(1 / 3) and out["MR1"] == 3.0 and out["P@2"] == 0.0
    with pytest.raises(InputError, match="two versions"):
        cover_metrics(np.zeros((2, 2)), ["a", "b"])


def _result(path: str, beats: np.ndarray, key: str = "D major") -> AnalysisResult:
    positions = [i % 4 + 1 for i in range(len(beats))]
    return AnalysisResult(path=path, bpm=120, beats=list(beats), downbeats=list(beats[::4]),
                          beat_positions=positions,
                          segments=[Segment(0.0, 15.0, "verse"), Segment(15.0, 31.0, "chorus")],
                          key=key, key_signature="D major/B minor", key_confidence=0.9, duration=31.0)


def test_readers_agree_across_formats(tmp_path):
    result = _result("song.wav", BEATS)
    save_result(result, tmp_path / "json" / "song.json")
    save_jams(result, tmp_path / "jams" / "song.jams")
    lines = [f"{t:.4f}\t{p}" for t, p in zip(BEATS, result.beat_positions)]
    (tmp_path / "song.beats").write_text("# time position\n" + "\n".join(lines) + "\n")
    (tmp_path / "keys.csv").write_text("path,key\nmusic/song.wav,D major\n")
    from_json = read_annotations(tmp_path / "json")["song"]
    from_jams = read_annotations(tmp_path / "jams")["song"]
    from_beats = read_annotations(tmp_path / "song.beats")["song"]
    for annotation in (from_json, from_jams, from_beats):
        np.testing.assert_allclose(annotation.beats, BEATS, atol=1e-4)
        np.testing.assert_allclose(annotation.downbeats, BEATS[::4], atol=1e-4)
    assert from_json.key == from_jams.key == read_annotations(tmp_path / "keys.csv")["song"].key == "D major"
    assert from_jams.bpm == 120 and from_jams.labels == ["verse", "chorus"]
    np.testing.assert_allclose(from_jams.intervals, [[0, 15], [15, 31]])
    assert track_name("a/b/song.wav.json") == "song"


def test_evaluate_pairs_by_name_and_reports_the_unmatched(tmp_path):
    refs, ests = tmp_path / "refs", tmp_path / "ests"
    for name, shift in (("one", 0.0), ("two", 0.2), ("three", 0.0)):
        save_result(_result(f"{name}.wav", BEATS), refs / f"{name}.json")
        if name != "three":
            save_result(_result(f"{name}.wav", BEATS + shift), ests / f"{name}.json")
    save_jams(_result("two.wav", BEATS + 0.2), ests / "two.jams")  # beside two.json: the JSON is read
    out = evaluate("beats", refs, ests)
    assert list(out.rows) == ["one", "two"] and out.unmatched_references == ["three"]
    assert out.rows["one"]["F"] == 1.0 and out.rows["two"]["F"] == 0.0 and out.mean["F"] == 0.5
    assert out.mean["Acc1"] == 1.0


def test_evaluate_command(cli, tmp_path):
    save_result(_result("song.wav", BEATS), tmp_path / "ref" / "song.json")
    save_result(_result("song.wav", BEATS[::2], key="A major"), tmp_path / "est" / "song.json")
    table = cli("evaluate", "beats", tmp_path / "ref" / "song.json", tmp_path / "est", "--per-track")
    assert table.code == 0 and "song" in table.out and "0.6667" in table.out
    report = json.loads(cli("evaluate", "key", tmp_path / "ref", tmp_path / "est", "--json").out)
    assert report["mean"] == {"weighted": 0.5, "exact": 0.0, "key_signature": 0.0} and report["tracks"] == 1


def test_evaluate_bad_inputs(cli, tmp_path):
    save_result(_result("song.wav", BEATS), tmp_path / "ref" / "song.json")
    save_result(_result("other.wav", BEATS), tmp_path / "est" / "other.json")
    (tmp_path / "empty.beats").write_text("# nothing\n")
    (tmp_path / "broken.jams").write_text("{not json")
    (tmp_path / "dup.csv").write_text("path,key\na/x.wav,C major\nb/x.wav,D major\n")
    (tmp_path / "nokey.csv").write_text("path,tempo\nx.wav,120\n")
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    cases = [
        (("beats", tmp_path / "missing", tmp_path / "est"), "no such file or folder"),
        (("beats", tmp_path / "ref", tmp_path / "est"), "no track name in common"),
        (("beats", tmp_path / "empty.beats", tmp_path / "est"), "no beats in the file"),
        (("beats", tmp_path / "broken.jams", tmp_path / "est"), "not valid JSON"),
        (("key", tmp_path / "dup.csv", tmp_path / "est"), "two rows for track 'x'"),
        (("key", tmp_path / "nokey.csv", tmp_path / "est"), "needs 'path' and 'key' columns"),
        (("key", nothing, tmp_path / "est"), "no annotation files"),
    ]
    for args, message in cases:
        res = cli("evaluate", *args)
        assert res.code == 2 and message in res.err and res.err.count("\n") == 1, (args, res.err)
    save_result(_result("song.wav", BEATS), tmp_path / "est" / "song.json")
    (tmp_path / "song.beats").write_text("1.0\n1.5\n")
    res = cli("evaluate", "structure", tmp_path / "song.beats", tmp_path / "est")
    assert res.code == 2 and "has no intervals" in res.err


def test_si_sdr_known_values():
    rng = np.random.default_rng(0)
    s = rng.standard_normal(10000)
    n = rng.standard_normal(10000)
    n -= (n @ s) / (s @ s) * s  # orthogonal to the reference
    n *= np.sqrt((s @ s) / (n @ n) / 100)  # 20 dB below it
    assert si_sdr(s, s + n) == pytest.approx(20.0, abs=1e-9)
    assert si_sdr(s, 3 * (s + n)) == pytest.approx(20.0, abs=1e-9)  # scale-invariant
    assert si_sdr(s, s) == np.inf and np.isnan(si_sdr(np.zeros(5), np.ones(5)))


def _write_stems(folder, stems, sr=8000):
    import soundfile as sf
    folder.mkdir(parents=True)
    for name, audio in stems.items():
        sf.write(folder / f"{name}.wav", audio, sr, subtype="FLOAT")


def test_separation_evaluation_of_perfect_noisy_and_swapped_stems(cli, tmp_path):
    rng = np.random.default_rng(1)
    refs = {name: rng.standard_normal((8000 * 6, 2)).astype(np.float32) * 0.1 for name in ("bass", "vocals")}
    _write_stems(tmp_path / "ref" / "song", refs)
    _write_stems(tmp_path / "est" / "song", refs)
    noisy = {k: v + 0.01 * rng.standard_normal(v.shape).astype(np.float32) for k, v in refs.items()}
    _write_stems(tmp_path / "noisy" / "song", noisy)
    _write_stems(tmp_path / "swapped" / "song", {"bass": refs["vocals"], "vocals": refs["bass"]})
    perfect = evaluate("separation", tmp_path / "ref", tmp_path / "est").rows["song"]
    assert perfect["SDR_bass"] == np.inf and perfect["SI-SDR_vocals"] == np.inf
    noisy = evaluate("separation", tmp_path / "ref", tmp_path / "noisy")
    row = noisy.rows["song"]
    assert row["SDR_bass"] == pytest.approx(20.0, abs=0.5) and row["SI-SDR_vocals"] == pytest.approx(20.0, abs=0.2)
    assert row["uSDR_bass"] == pytest.approx(20.0, abs=0.2) and noisy.median["uSDR_bass"] == row["uSDR_bass"]
    swapped = evaluate("separation", tmp_path / "ref", tmp_path / "swapped").rows["song"]
    assert swapped["SDR_bass"] < 1.0 and swapped["SI-SDR_bass"] < -20
    res = cli("evaluate", "separation", tmp_path / "ref", tmp_path / "est" / "song" / "bass.wav")
    assert res.code == 2 and "not a folder of separated tracks" in res.err


def test_synth_manifest_as_reference(cli, tmp_path):
    out = tmp_path / "corpus"
    assert cli("synth", out, "--works", "1", "--versions", "2", "--engine", "numpy", "--sample-rate", "16000",
               "-q").code == 0
    refs = read_annotations(out / "manifest.csv")
    assert sorted(refs) == ["work0000_v0", "work0000_v1"] and refs["work0000_v1"].beats is not None
    out_eval = evaluate("structure", out / "manifest.csv", out / "annotations")
    assert out_eval.mean["HR3F"] == 1.0 and out_eval.mean["label_accuracy"] == 1.0


def test_cover_evaluation_from_embeddings_and_distances(cli, tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("track,work_id\na_v0,a\na_v1,a\nb_v0,b\nb_v1,b\n")
    names = np.array(["a_v0", "a_v1", "b_v0", "b_v1", "unknown"])
    good = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.5, 0.5]])
    np.savez(tmp_path / "good.npz", names=names, embeddings=good)
    report = json.loads(cli("evaluate", "covers", manifest, tmp_path / "good.npz", "--json").out)
    assert report["mean"] == {"mAP": 1.0, "MR1": 1.0, "P@10": 0.1}
    assert report["unmatched"]["estimates"] == ["unknown"]
    bad = np.array([[0, 9, 1, 2], [9, 0, 1, 2], [1, 2, 0, 9], [1, 2, 9, 0]], float)
    np.savez(tmp_path / "bad.npz", names=names[:4], distances=bad)
    assert evaluate("covers", manifest, tmp_path / "bad.npz").mean["MR1"] == 3.0
    np.savez(tmp_path / "empty.npz", names=names)
    res = cli("evaluate", "covers", manifest, tmp_path / "empty.npz")
    assert res.code == 2 and "needs 'names' and 'distances' or 'embeddings'" in res.err


def test_evaluate_with_a_model_runs_it_and_scores_what_analyze_gives(cli, tmp_path, song44):
    """`evaluate TASK REFS AUDIO -m MODEL` equals analyze + evaluate, through the model registry."""
    song, stems = song44
    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(audio / "song.wav", stems["mixture"], 22050, subtype="PCM_16")
    times, positions = song.beats()
    (tmp_path / "song.beats").write_text("".join(f"{t:.4f} {p}\n" for t, p in zip(times, positions)))
    direct = cli("evaluate", "beats", tmp_path / "song.beats", audio, "-m", "classic", "--json")
    assert direct.code == 0, direct.err
    cli("analyze", audio / "song.wav", "-o", tmp_path / "est", "-q")
    two_steps = cli("evaluate", "beats", tmp_path / "song.beats", tmp_path / "est", "--json")
    assert json.loads(direct.out)["mean"] == json.loads(two_steps.out)["mean"]
    assert json.loads(direct.out)["mean"]["F"] > 0.95
    (tmp_path / "keys.csv").write_text(f"path,key\nsong.wav,{song.key}\n")
    keyed = cli("evaluate", "key", tmp_path / "keys.csv", audio, "-m", "classic", "--json")
    assert keyed.code == 0 and json.loads(keyed.out)["mean"]["exact"] == 1.0
    wrong = cli("evaluate", "key", tmp_path / "keys.csv", audio, "-m", "harmonix-fold0")
    assert wrong.code == 2 and "a structure model" in wrong.err


def test_evaluate_separation_with_a_model_separates_the_mixture(cli, tmp_path):
    """-m separates each reference track's mixture in memory; the scores equal separate + evaluate."""
    t = np.arange(44100 * 4) / 44100
    rng = np.random.default_rng(2)
    refs = {"bass": 0.3 * np.sin(2 * np.pi * 55 * t), "drums": 0.2 * rng.standard_normal(len(t)) * (t % 0.5 < 0.05),
            "other": 0.1 * np.sin(2 * np.pi * 660 * t), "vocals": 0.1 * np.sin(2 * np.pi * 440 * t * (1 + 0.01 * t))}
    refs = {k: np.stack([v, v], axis=1).astype(np.float32) for k, v in refs.items()}
    folder = tmp_path / "ref" / "song"
    _write_stems(folder, refs)
    sf.write(folder / "mixture.wav", sum(refs.values()), 44100, subtype="FLOAT")
    direct = cli("evaluate", "separation", tmp_path / "ref", tmp_path / "ref", "-m", "classic", "--json")
    assert direct.code == 0, direct.err
    separated = cli("separate", folder / "mixture.wav", "-o", tmp_path / "est", "--format", "wav32", "-q")
    assert separated.code == 0, separated.err
    two_steps = cli("evaluate", "separation", tmp_path / "ref", tmp_path / "est", "--json")
    a, b = json.loads(direct.out)["mean"], json.loads(two_steps.out)["mean"]
    assert len(a) == 12 and all(v is not None for v in a.values())  # SDR, uSDR and SI-SDR of 4 stems
    assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], abs=0.01) for k in a)


def test_framewise_sdr_equals_museval():
    """songscope's BSSEval v4 SDR against museval's own (the reference implementation), with a
    silent second in one source (NaN frames) and uneven lengths; exact frames are inf in songscope
    and a large finite number in museval (its projections leave rounding), so they are compared
    apart."""
    museval = pytest.importorskip("museval")
    from songscope.evaluate.metrics import framewise_sdr

    rng = np.random.default_rng(0)
    n = 3000 * 5 + 123
    ref = rng.standard_normal((4, n, 2)) * np.array([1.0, 0.5, 0.2, 0.1])[:, None, None]
    ref[2, 3000:6000] = 0.0
    est = ref + 0.1 * rng.standard_normal(ref.shape) + 0.05 * np.roll(ref, 1, axis=0)
    est[1, :3000] = ref[1, :3000]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = museval.evaluate(ref, est, win=3000, hop=3000)[0]
    ours = framewise_sdr(ref, est, 3000)
    assert ours.shape == expected.shape == (4, 5)
    assert np.array_equal(np.isnan(ours), np.isnan(expected)) and np.isnan(ours[:, 1]).all()
    exact = np.isinf(ours)
    assert exact[1, 0] and exact.sum() == 1 and expected[1, 0] > 200
    finite = ~np.isnan(ours) & ~exact
    np.testing.assert_allclose(ours[finite], expected[finite], atol=1e-9)
