"""The classic covers engine against essentia's Qmax on two synthetic covers corpora.

    python benchmarks/covers_classic.py [--corpus dev|heldout] [--rerank 20] [--essentia-stride 1]
                                        [--works 12] [--versions 4] [--out data/covers_classic] [--no-essentia]

The corpora (rendered once into ``OUT/NAME/``, then reused): ``songscope synth``'s works and versions
(transposed -5..+6 semitones, tempo x0.75-1.25, other General-MIDI instruments through FluidSynth,
other drum styles, an edited form), each work cut after its first chorus (intro, verse(s), chorus:
20-60 s a song), mono 22.05 kHz WAV:

- ``dev``: works from seeds 1000.., versions seed 5, FluidSynth's default GM font (FluidR3_GM): the
  corpus the re-ranker's settings (block length, fusion) were chosen on;
- ``heldout``: works from seeds 5000.., versions seed 9, the TimGM6mb font: evidence that was not
  looked at while choosing them.

Every recording queries all the others (all works are held out: the classic engine learns
nothing). Systems, each timed (wall and CPU seconds) from the audio files to the distances, on
one pinned core:

- ``classic``: songscope's 2DFTM fingerprints (``-m classic``), cosine distances;
- ``classic_qmax``: the same, the ``--rerank`` nearest of each query re-ranked by the classic
  engine's re-ranking distance (Qmax of block chroma fused with the cosine);
- ``essentia``: essentia's HPCP (``essentia.pytools.spectral.hpcpgram`` at 32 kHz, hop 2048),
  ``ChromaCrossSimilarity`` (9-frame stacks, kappa 0.095, OTI) and ``CoverSongSimilarity``
  (serra09, onset and extension penalties 0.5, asymmetric distance) on every ordered pair, as
  essentia's cover-song tutorial does. It costs about 0.4 CPU s a pair: ``--essentia-stride n``
  runs it for every n-th recording as a query only (against all recordings); the classic systems
  are then also scored on those queries (``*_on_essentia_queries``), and the speed ratio compares
  essentia's time scaled to all queries. Its distances are cached in ``OUT/NAME/essentia.npz``
  with the times they took, and reused while the corpus and queries are the same. The classic
  systems' (n, n) distances are written to ``OUT/NAME/classic_distances.npz`` for inspection.

Prints one JSON object: per corpus, mAP, MR1, P@10 and seconds of each system and the speed ratios.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SR = 22050
ESSENTIA_SR = 32000
RERANK = 20


@dataclass(frozen=True)
class Corpus:
    """A synthetic covers corpus: works composed from seeds ``first_work, first_work + 1, ...``,
    versions drawn with ``version_seed``, rendered with ``soundfont`` (None: FluidSynth's default GM font)."""

    name: str
    first_work: int
    version_seed: int
    soundfont: str | None


#: The development corpus (the classic engine's settings were looked at on it) and a held-out one:
#: other works, other versions and another soundfont.
CORPORA = (Corpus("dev", 1000, 5, None), Corpus("heldout", 5000, 9, "/usr/share/sounds/sf2/TimGM6mb.sf2"))


def render_corpus(out: Path, corpus: Corpus, works: int, versions: int) -> list[tuple[Path, str]]:
    """(file, work) of every recording, rendering the missing ones."""
    from songscope.audio.save import save_audio
    from songscope.synth.soundfont import render_song_soundfont
    from songscope.synth.works import arrange, compose_work, make_versions

    out.mkdir(parents=True, exist_ok=True)
    files = []
    for w in range(works):
        full = compose_work(corpus.first_work + w, f"work{w:03d}")
        chorus = next(i for i, (label, _) in enumerate(full.form) if label == "chorus")
        work = replace(full, form=full.form[:chorus + 1])
        for version in make_versions(work, versions, seed=corpus.version_seed):
            path = out / f"{version.version_id}.wav"
            if not path.exists():
                audio = render_song_soundfont(arrange(work, version), SR, version.instrumentation(), corpus.soundfont)
                save_audio(path, audio["mixture"].mean(axis=1), SR, subtype="PCM_16")
            files.append((path, work.work_id))
    return files


def classic(files: list[Path]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Cosine distances (n, n) of the fingerprints, and the chroma sequences that Qmax aligns."""
    from songscope.covers.search import embed_files

    done, failures = embed_files(files, "classic")
    if failures:
        raise SystemExit(f"classic engine failed on {failures[0].item}: {failures[0].message}")
    vectors = np.stack([p.vector for p in done])
    return 1.0 - vectors @ vectors.T, [np.asarray(p.sequence, np.float32) for p in done]


def rerank(cosine: np.ndarray, sequences: list[np.ndarray], candidates: int) -> np.ndarray:
    """Each query's ``candidates`` nearest others ordered by the classic engine's re-ranking
    distance (Qmax fused with the cosine), placed before the rest (in cosine order)."""
    from songscope.models import load_engine

    engine = load_engine("covers", "classic")
    out = np.array(cosine, dtype=float)
    np.fill_diagonal(out, np.inf)
    for q in range(len(out)):
        nearest = np.argsort(out[q], kind="stable")[:candidates]
        distances = [engine.rerank_distance(sequences[q], sequences[c], cosine[q, c]) for c in nearest]
        out[q] += 1000.0  # everything else after the re-ranked candidates, in cosine order
        out[q, nearest] = distances
    np.fill_diagonal(out, 0.0)
    return out


def essentia_distances(files: list[Path], queries: np.ndarray, cache: Path) -> tuple[np.ndarray, float, float]:
    """essentia's (q, n) Qmax distances of the ``queries`` (indices into ``files``) to every file,
    with the wall and CPU seconds they took.

    The result is kept in ``cache`` (an .npz beside the corpus, keyed by the file names) and read
    from there on later runs: the peer does not change while the classic engine does, and it costs
    about 0.4 CPU seconds a pair.
    """
    names = np.array([f.name for f in files])
    if cache.exists():
        kept = np.load(cache)
        if np.array_equal(kept["names"], names) and np.array_equal(kept["queries"], queries):
            return kept["distances"], float(kept["wall"]), float(kept["cpu"])
    import essentia
    import essentia.standard as es
    from essentia.pytools.spectral import hpcpgram

    essentia.log.infoActive = False
    with Timer() as peer:
        hpcps = [hpcpgram(es.MonoLoader(filename=str(f), sampleRate=ESSENTIA_SR)(), sampleRate=ESSENTIA_SR)
                 for f in files]
        cross = es.ChromaCrossSimilarity(frameStackSize=9, frameStackStride=1, binarizePercentile=0.095, oti=True)
        qmax = es.CoverSongSimilarity(disOnset=0.5, disExtension=0.5, alignmentType="serra09",
                                      distanceType="asymmetric")
        out = np.zeros((len(queries), len(files)))
        for row, q in enumerate(queries):
            for r in range(len(files)):
                if q != r:
                    out[row, r] = qmax(cross(hpcps[q], hpcps[r]))[1]
    np.savez(cache, names=names, queries=queries, distances=out, wall=peer.wall, cpu=peer.cpu)
    return out, peer.wall, peer.cpu


class Timer:
    """Wall and CPU seconds of a ``with`` block (``wall``, ``cpu``)."""

    def __enter__(self) -> "Timer":
        self.start = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.start[0]
        self.cpu = time.process_time() - self.start[1]


def score_corpus(folder: Path, corpus: Corpus, args: argparse.Namespace) -> dict:
    """The report of one corpus: its size and every system's scores and times."""
    files_works = render_corpus(folder, corpus, args.works, args.versions)
    files, works = [f for f, _ in files_works], [w for _, w in files_works]
    queries = np.arange(0, len(files), args.essentia_stride)
    report: dict = {"soundfont": corpus.soundfont or "default", "first_work_seed": corpus.first_work,
                    "version_seed": corpus.version_seed, "recordings": len(files),
                    "audio_seconds": round(sum(sf_duration(f) for f in files), 1)}
    with Timer() as fingerprints:
        cosine, sequences = classic(files)
    with Timer() as reranking:
        reranked = rerank(cosine, sequences, args.rerank)
    systems = {"classic": (cosine, fingerprints.wall, fingerprints.cpu),
               "classic_qmax": (reranked, fingerprints.wall + reranking.wall, fingerprints.cpu + reranking.cpu)}
    for name, (distances, wall, cpu) in systems.items():
        report[name] = _scored(distances, works, wall, cpu)
    np.savez(folder / "classic_distances.npz", names=[f.name for f in files],
             **{name: matrix for name, (matrix, _, _) in systems.items()})
    if args.no_essentia:
        return report
    distances, wall, cpu = essentia_distances(files, queries, folder / "essentia.npz")
    report["essentia_queries"] = len(queries)
    # essentia scores the queries it ran; the classic systems are scored on the same queries too
    report["essentia"] = _scored(distances, works, wall, cpu, queries)
    for name, (matrix, own_wall, own_cpu) in systems.items():
        report[f"{name}_on_essentia_queries"] = _scored(matrix[queries], works, own_wall, own_cpu, queries)
        # essentia's time scales with the number of query rows; compare per query
        share = len(queries) / len(files)
        report[f"speedup_{name}_vs_essentia"] = {"wall": round(wall / share / own_wall, 2),
                                                 "cpu": round(cpu / share / own_cpu, 2)}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, default=12)
    parser.add_argument("--versions", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "covers_classic")
    parser.add_argument("--corpus", choices=[c.name for c in CORPORA], action="append",
                        help="score only this corpus (repeatable; default: all)")
    parser.add_argument("--rerank", type=int, default=RERANK, help="candidates re-ranked by Qmax per query")
    parser.add_argument("--essentia-stride", type=int, default=1,
                        help="essentia queries every n-th recording only (it is slow)")
    parser.add_argument("--no-essentia", action="store_true", help="score the classic engine alone")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from common import pin_one_core

    pin_one_core()
    report = {"works": args.works, "versions": args.versions, "rerank": args.rerank}
    for corpus in CORPORA:
        if not args.corpus or corpus.name in args.corpus:
            report[corpus.name] = score_corpus(args.out / corpus.name, corpus, args)
    print(json.dumps(report))


def sf_duration(path: Path) -> float:
    import soundfile as sf

    return float(sf.info(str(path)).duration)


def _scored(distances: np.ndarray, works: list[str], wall: float, cpu: float,
            queries: np.ndarray | None = None) -> dict[str, float]:
    """mAP, MR1, P@10 of the (q, n) distances of the ``queries`` (default: every recording) to all
    the others, with the times."""
    from songscope.evaluate.metrics import ranking_metrics

    rows = np.arange(len(works)) if queries is None else queries
    own = np.arange(len(works))[None, :] == rows[:, None]
    scores = ranking_metrics(distances, np.asarray(works)[rows], works, own)
    metrics = {k: round(v, 4) for k, v in scores.items()}
    return {**metrics, "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2)}


if __name__ == "__main__":
    main()
