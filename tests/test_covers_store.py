"""Cover reference stores end to end: ``songscope covers index / add / calibrate / identify``,
:func:`songscope.identify` and ``songscope evaluate covers``, on real audio (``songscope synth``
works rendered short), real FAISS and SQLite, with the classic engine and a tiny randomly
initialised CoverHunter checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("faiss")

import songscope  # noqa: E402
from songscope.cli import main  # noqa: E402
from songscope.covers.store import CoverStore  # noqa: E402
from songscope.synth import render_song  # noqa: E402
from songscope.synth.works import Version, arrange, compose_work  # noqa: E402

SR = 22050
FORM = (("verse", 8), ("chorus", 8))
#: work -> composition seed; seeds 1, 7 and 8 have different verse and chorus chord cycles
SEEDS = {"A": 1, "B": 7, "C": 8}


def _render(path: Path, seed: int, **changes) -> Path:
    song = arrange(compose_work(seed), Version("v", form=FORM, seed=2, **changes))
    sf.write(path, render_song(song, SR, seed=2)["mixture"], SR, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """Two versions of three works (as written; 3 semitones up and 10 % faster) in ``refs/``,
    ``works.csv`` naming their works, a held-out third version of A (2 down, 10 % slower) and a
    3-second excerpt as queries, and the store of ``refs/`` built by the classic engine."""
    root = tmp_path_factory.mktemp("covers_store")
    (root / "refs").mkdir()
    rows = ["path,work"]
    for work, seed in SEEDS.items():
        _render(root / "refs" / f"{work}_v0.wav", seed)
        _render(root / "refs" / f"{work}_v1.wav", seed, transpose=3, tempo_factor=1.1)
        rows += [f"refs/{work}_v0.wav,{work}", f"refs/{work}_v1.wav,{work}"]
    (root / "works.csv").write_text("\n".join(rows) + "\n")
    held_out = _render(root / "A_v2.wav", SEEDS["A"], transpose=-2, tempo_factor=0.9)
    audio, _ = sf.read(held_out)
    sf.write(root / "short.wav", audio[: 3 * SR], SR)
    assert main(["covers", "index", str(root / "refs"), "-o", str(root / "store"), "--works",
                 str(root / "works.csv"), "--centroids", "-q"]) == 0
    return {"root": root, "refs": root / "refs", "works": root / "works.csv", "held_out": held_out,
            "short": root / "short.wav", "store": root / "store"}


def _identify(cli, *args) -> tuple[int, list[dict]]:
    result = cli("covers", "identify", *args, "--format", "json", "-q")
    return result.code, json.loads(result.out)


def _copy(store: Path, to: Path) -> Path:
    shutil.copytree(store, to)
    return to


def test_identify_prints_exactly_a_json_list_of_ranked_matches(cli, corpus):
    own = corpus["refs"] / "A_v0.wav"
    code, out = _identify(cli, own, corpus["held_out"], "--refs", corpus["store"], "-k", "3")
    assert code == 0 and [o["query"] for o in out] == [str(own), str(corpus["held_out"])]
    for entry in out:
        assert set(entry) == {"query", "matches"} and len(entry["matches"]) == 3
        assert all({"path", "work", "distance"} <= set(m) for m in entry["matches"])
        distances = [m["distance"] for m in entry["matches"]]
        assert distances == sorted(distances)
    itself, cover = out[0]["matches"][:2]
    assert itself["path"] == str(own) and itself["distance"] < 1e-5  # a query in the store finds itself
    assert cover["work"] == "A"
    assert out[1]["matches"][0]["work"] == "A"  # the unseen version finds its work
    text = cli("covers", "identify", corpus["held_out"], "--refs", corpus["store"], "-k", "2", "-q")
    lines = text.out.splitlines()
    assert text.code == 0 and lines[0] == str(corpus["held_out"]) and len(lines) == 3 and " A " in lines[1]


def test_centroids_rank_works_and_qmax_reranks_the_short_list(cli, corpus):
    code, out = _identify(cli, corpus["held_out"], "--refs", corpus["store"], "-k", "3", "--centroids")
    works = [m["work"] for m in out[0]["matches"]]
    assert code == 0 and sorted(works) == ["A", "B", "C"] and works[0] == "A"
    with CoverStore(corpus["store"]) as store:
        assert store.has_centroids and store.centroid_index().ntotal == 3 and len(store) == 6
    code, out = _identify(cli, corpus["held_out"], "--refs", corpus["store"], "-k", "2", "--rerank", "6")
    assert code == 0 and [m["work"] for m in out[0]["matches"]] == ["A", "A"]


def test_add_is_idempotent_and_goes_on_past_a_missing_file(cli, corpus, tmp_path):
    store = _copy(corpus["store"], tmp_path / "store")
    before = (store / "CURRENT").read_text()
    missing = tmp_path / "gone.wav"
    result = cli("covers", "add", store, corpus["held_out"], missing, "--works", corpus["works"])
    assert result.code == 1 and "gone.wav" in result.err  # the held-out file has no row: unknown work
    assert "unknown work" in result.err and (store / "CURRENT").read_text() == before
    result = cli("covers", "add", store, missing, corpus["held_out"])  # each file its own work
    assert result.code == 1 and "1 added" in result.err and "gone.wav" in result.err
    generation = (store / "CURRENT").read_text()
    with CoverStore(store) as opened:
        assert len(opened) == 7 and opened.performances([6])[0]["work"] == "A_v2"
    again = cli("covers", "add", store, corpus["held_out"])
    assert again.code == 0 and "0 added, 1 already in the store" in again.err
    assert (store / "CURRENT").read_text() == generation


def _add_killed_while_writing(store: Path, new: Path) -> bool:
    """Run ``covers add`` in a process, SIGKILL it once its new generation folder appears;
    False when it finished before that could be seen."""
    code = "import sys; from songscope.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-c", code, "covers", "add", str(store), str(new), "-q"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while process.poll() is None:
            if any(p.name.endswith(".tmp") for p in store.iterdir()):
                process.send_signal(signal.SIGKILL)
                process.wait()
                return True
            time.sleep(0.0002)
        return False
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_an_add_killed_mid_write_leaves_the_store_as_it_was(cli, corpus, tmp_path):
    store = _copy(corpus["store"], tmp_path / "store")
    before = (store / "CURRENT").read_text()
    _, answer = _identify(cli, corpus["held_out"], "--refs", store, "-k", "6")
    killed = False
    for attempt in range(3):
        new = tmp_path / f"new{attempt}.wav"
        audio, _ = sf.read(corpus["held_out"])
        sf.write(new, (0.9 - 0.1 * attempt) * audio, SR)  # new content each time
        if _add_killed_while_writing(store, new):
            killed = True
            break
        shutil.rmtree(store)
        _copy(corpus["store"], store)
    assert killed, "the add finished before its new generation could be seen three times"
    assert (store / "CURRENT").read_text() == before
    assert any(p.name.endswith(".tmp") for p in store.iterdir())  # its half-written generation
    with CoverStore(store) as opened:
        assert len(opened) == 6
    assert _identify(cli, corpus["held_out"], "--refs", store, "-k", "6")[1] == answer
    assert cli("covers", "add", store, new, "-q").code == 0
    folders = [p.name for p in store.iterdir() if p.is_dir()]
    assert folders == [(store / "CURRENT").read_text().strip()]  # the leftovers are gone
    with CoverStore(store) as opened:
        assert len(opened) == 7


def test_calibration_gives_each_match_a_confidence(cli, corpus, tmp_path):
    store = _copy(corpus["store"], tmp_path / "store")
    validation = _subset(corpus, tmp_path / "validation", ("A_v0.wav", "A_v1.wav", "B_v0.wav", "B_v1.wav"))
    result = cli("covers", "calibrate", store, validation, "--works", corpus["works"])
    assert result.code == 0 and "cosine: confidence 0.5 at distance" in result.err and "rerank:" in result.err
    with CoverStore(store) as opened:
        cosine = opened.calibration("cosine")
    assert (cosine.positives, cosine.negatives) == (2, 4) and cosine.slope < 0
    code, out = _identify(cli, corpus["held_out"], "--refs", store, "-k", "6")
    confidences = {m["work"]: m["confidence"] for m in reversed(out[0]["matches"])}
    assert code == 0 and confidences["A"] > 0.5 > max(confidences["B"], confidences["C"])
    for match in out[0]["matches"]:
        assert match["confidence"] == pytest.approx(float(cosine.confidence(match["distance"])), abs=1e-4)
    code, out = _identify(cli, corpus["held_out"], "--refs", store, "-k", "1", "--rerank", "6")
    assert code == 0 and out[0]["matches"][0]["work"] == "A" and out[0]["matches"][0]["confidence"] > 0.5


def _tiny_coverhunter(path: Path, seed: int) -> Path:
    """A randomly initialised CoverHunter (one conformer block, 16-dimensional embeddings)."""
    torch = pytest.importorskip("torch")
    from songscope.covers.config import CoverHunterConfig
    from songscope.covers.model import CoverHunterNet
    from songscope.models.container import Checkpoint, save_checkpoint

    config = CoverHunterConfig.from_hparams({"embed_dim": 16, "chunk_frame": [250], "mean_size": 2,
                                             "encoder": {"output_dims": 16, "num_blocks": 1, "attention_dim": 32},
                                             "foc": {"output_dims": 8}})
    torch.manual_seed(seed)
    net = CoverHunterNet(config)
    return save_checkpoint(Checkpoint("coverhunter", config.to_hparams(), net.state_dict()), path)


def test_a_coverhunter_store_and_the_python_api(cli, corpus, tmp_path):
    model = _tiny_coverhunter(tmp_path / "tiny.pt", seed=0)
    store = tmp_path / "neural"
    listing = tmp_path / "full.txt"  # a CoverHunterMPS list names the works; its speed variants are left out
    lines = [{"perf": f"{w}_v{v}", "wav": str(corpus["refs"] / f"{w}_v{v}.wav"), "work": w, "work_id": i}
             for i, w in enumerate(SEEDS) for v in (0, 1)]
    lines.append({"perf": "sp_0.9-A_v0", "wav": "sp_0.9/A_v0.wav", "work": "A", "work_id": 0})
    listing.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = cli("covers", "index", listing, "-o", store, "-m", model, "-q")
    assert result.code == 0, result.err
    with CoverStore(store) as opened:
        assert opened.dim == 16 and len(opened) == 6 and opened.model == str(model)
    found = songscope.identify(corpus["refs"] / "B_v1.wav", store, k=6)
    assert len(found) == 1 and found[0].matches[0].path == str(corpus["refs"] / "B_v1.wav")
    assert found[0].matches[0].distance < 1e-5 and len(found[0].matches) == 6
    assert sorted(m.work for m in found[0].matches) == ["A", "A", "B", "B", "C", "C"]
    # a store of another model is refused, in one line
    for args in (("covers", "index", corpus["held_out"], "-o", store),
                 ("covers", "identify", corpus["held_out"], "--refs", store, "-m", "classic"),
                 ("covers", "identify", corpus["held_out"], "--refs", corpus["store"], "-m", model)):
        result = cli(*args)
        assert result.code != 0 and "the store holds embeddings of model" in result.err
        assert len(result.err.strip().splitlines()) == 1
    _tiny_coverhunter(model, seed=1)  # other weights under the same name: another model
    result = cli("covers", "identify", corpus["held_out"], "--refs", store)
    assert result.code != 0 and "the store holds embeddings of model" in result.err


def test_bad_input_is_one_line_and_a_nonzero_exit(cli, corpus, tmp_path):
    code, out = _identify(cli, corpus["refs"] / "C_v0.wav", corpus["short"], "--refs", corpus["store"], "-k", "1")
    assert code == 1 and [o["query"] for o in out] == [str(corpus["refs"] / "C_v0.wav")]
    short = cli("covers", "identify", corpus["short"], "--refs", corpus["store"])
    assert short.code != 0 and "too short for a cover fingerprint" in short.err
    assert len(short.err.strip().splitlines()) == 1
    (tmp_path / "bad.csv").write_text("name,label\nx.wav,A\n")
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.txt").write_text("hello")
    cases = {("covers", "index", corpus["refs"], "-o", tmp_path / "s1", "--works", tmp_path / "bad.csv"):
             "a works table needs a 'path', 'file' or 'track' column",
             ("covers", "features", tmp_path / "empty.txt", tmp_path / "feat"): "no performances listed",
             ("covers", "identify", corpus["held_out"], "--refs", tmp_path): "not a cover store",
             ("covers", "index", corpus["held_out"], "-o", tmp_path / "folder"): "not a cover store",
             ("covers", "identify", corpus["held_out"], "--refs", corpus["store"], "--rerank", "3", "-k", "0"):
             "k must be at least 1"}
    for args, message in cases.items():
        result = cli(*args)
        assert result.code != 0 and message in result.err, (args, result.err)
        assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err
    unknown = cli("covers", "index", corpus["held_out"], "-o", tmp_path / "s2", "--works", corpus["works"])
    assert unknown.code != 0 and "unknown work: no row for A_v2.wav" in unknown.err


def _subset(corpus, folder: Path, names: tuple[str, ...]) -> Path:
    """A folder holding copies of some of the reference recordings."""
    folder.mkdir()
    for name in names:
        shutil.copy(corpus["refs"] / name, folder / name)
    return folder


def test_evaluate_covers_embeds_audio_and_saves_distances(cli, corpus, tmp_path):
    audio = _subset(corpus, tmp_path / "audio", ("A_v0.wav", "A_v1.wav", "B_v0.wav"))
    result = cli("evaluate", "covers", corpus["works"], audio, "-m", "classic", "--distances", tmp_path / "d.npz",
                 "--json")
    assert result.code == 0, result.err
    saved = np.load(tmp_path / "d.npz")
    names, distances = [str(n) for n in saved["names"]], saved["distances"]
    assert sorted(names) == ["A_v0", "A_v1", "B_v0"] and [str(n) for n in saved["query_names"]] == names
    with CoverStore(corpus["store"]) as store:
        rows = {Path(r["path"]).stem: r["id"] for r in store.performances(range(len(store)))}
        vectors = store.vectors([rows[n] for n in names])
    assert np.allclose(distances, 1.0 - vectors @ vectors.T, atol=1e-5)  # the store's embeddings
    from songscope.evaluate.metrics import cover_metrics
    assert json.loads(result.out)["mean"] == pytest.approx(cover_metrics(distances, [n[0] for n in names]), abs=1e-4)


def test_evaluate_covers_draws_a_tsne_map_marking_test_only_works(cli, corpus, tmp_path):
    pytest.importorskip("sklearn")
    rows = corpus["works"].read_text().strip().splitlines()
    works = tmp_path / "works.csv"
    works.write_text("\n".join([rows[0] + ",split"] + [r + (",test" if r.endswith(",C") else ",train")
                                                      for r in rows[1:]]) + "\n")
    with CoverStore(corpus["store"]) as store:
        names = [Path(r["path"]).stem for r in store.performances(range(len(store)))]
        vectors = store.vectors(range(len(store)))
    embeddings = _npz(tmp_path / "set.npz", names, vectors.tolist())
    result = cli("evaluate", "covers", works, embeddings, "--tsne", tmp_path / "map.png")
    assert result.code == 0, result.err
    assert (tmp_path / "map.png").stat().st_size > 10_000


def _npz(path: Path, names: list[str], vectors: list[list[float]]) -> Path:
    np.savez(path, names=np.array(names), embeddings=np.array(vectors, dtype=float))
    return path


def test_evaluate_covers_with_distinct_query_and_reference_sets(cli, tmp_path):
    (tmp_path / "works.csv").write_text("track,work\nr0,X\nr1,X\nr2,Y\nr3,Y\nq1,Y\n")
    refs = _npz(tmp_path / "refs.npz", ["r0", "r1", "r2", "r3"], [[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    queries = _npz(tmp_path / "queries.npz", ["r0", "q1"], [[1, 0], [0.6, 0.4]])
    # q r0 is reference 0 itself (left out): r1 is found first. q1 (Y) finds r1, r0 (X) before r3, r2:
    # AP = (1/3 + 2/4) / 2, first correct at rank 3; P@10 = (1/10 + 2/10) / 2
    expected = {"mAP": (1.0 + (1 / 3 + 2 / 4) / 2) / 2, "MR1": (1 + 3) / 2, "P@10": 0.15}
    by_name = cli("evaluate", "covers", tmp_path / "works.csv", refs, "--queries", queries, "--json")
    assert by_name.code == 0 and json.loads(by_name.out)["mean"] == pytest.approx(expected, abs=1e-4)
    (tmp_path / "qir.json").write_text(json.dumps({"query_in_ref": [[0, 0]]}))
    paired = cli("evaluate", "covers", tmp_path / "works.csv", refs, "--queries", queries, "--query-in-ref",
                 tmp_path / "qir.json", "--json")
    assert paired.code == 0 and json.loads(paired.out)["mean"] == pytest.approx(expected, abs=1e-4)
    (tmp_path / "far.json").write_text(json.dumps({"query_in_ref": [[0, 9]]}))
    bad = cli("evaluate", "covers", tmp_path / "works.csv", refs, "--queries", queries, "--query-in-ref",
              tmp_path / "far.json")
    assert bad.code != 0 and "outside 2 queries x 4 references" in bad.err
    wrong = cli("evaluate", "beats", tmp_path / "works.csv", refs, "--queries", queries)
    assert wrong.code != 0 and "--queries apply to `evaluate covers` only" in wrong.err
