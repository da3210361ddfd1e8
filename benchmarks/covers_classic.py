"""The classic covers engine against essentia's Qmax on a synthetic covers corpus.

    python benchmarks/covers_classic.py [--works 12] [--versions 4] [--out data/covers_classic]

The corpus (rendered once, then reused): ``songscope synth``'s works and versions (transposed
-5..+6 semitones, tempo x0.75-1.25, other General-MIDI instruments through FluidSynth, other drum
styles, an edited form), each work cut after its first chorus (intro, verse(s), chorus: 20-60 s a song),
mono 22.05 kHz WAV. Every recording queries all the others (all works are held out: the classic
engine learns nothing; its constants are the papers').

Systems, each timed (wall and CPU seconds) from the audio files to the full (n, n) distance matrix
on one pinned core:

- ``classic``: songscope's 2DFTM fingerprints (``-m classic``), cosine distances;
- ``classic_qmax``: the same, the 10 nearest of each query re-ranked by songscope's Qmax;
- ``essentia``: essentia's HPCP (``essentia.pytools.spectral.hpcpgram`` at 32 kHz, hop 2048),
  ``ChromaCrossSimilarity`` (9-frame stacks, kappa 0.095, OTI) and ``CoverSongSimilarity``
  (serra09, onset and extension penalties 0.5, asymmetric distance) on every ordered pair, as
  essentia's cover-song tutorial does.

Prints one JSON object: mAP, MR1, P@10 and seconds of each system, and the speed ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SR = 22050
ESSENTIA_SR = 32000
RERANK = 10


def render_corpus(out: Path, works: int, versions: int) -> list[tuple[Path, str]]:
    """(file, work) of every recording, rendering the missing ones."""
    from songscope.audio.save import save_audio
    from songscope.synth.soundfont import render_song_soundfont
    from songscope.synth.works import arrange, compose_work, make_versions

    out.mkdir(parents=True, exist_ok=True)
    files = []
    for w in range(works):
        full = compose_work(1000 + w, f"work{w:03d}")
        chorus = next(i for i, (label, _) in enumerate(full.form) if label == "chorus")
        work = replace(full, form=full.form[:chorus + 1])
        for version in make_versions(work, versions, seed=5):
            path = out / f"{version.version_id}.wav"
            if not path.exists():
                audio = render_song_soundfont(arrange(work, version), SR, version.instrumentation())
                save_audio(path, audio["mixture"].mean(axis=1), SR, subtype="PCM_16")
            files.append((path, work.work_id))
    return files


def classic(files: list[Path]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Cosine distances (n, n) of the fingerprints, and the beat chroma that Qmax aligns."""
    from songscope.covers.search import embed_files

    done, failures = embed_files(files, "classic")
    if failures:
        raise SystemExit(f"classic engine failed on {failures[0].item}: {failures[0].message}")
    vectors = np.stack([p.vector for p in done])
    return 1.0 - vectors @ vectors.T, [np.asarray(p.sequence, np.float32) for p in done]


def rerank(cosine: np.ndarray, sequences: list[np.ndarray]) -> np.ndarray:
    """Each query's RERANK nearest others ordered by Qmax distance, placed before the rest."""
    from songscope.covers.classic import qmax_distance

    out = np.array(cosine, dtype=float)
    np.fill_diagonal(out, -1.0)
    for q in range(len(out)):
        nearest = [c for c in np.argsort(out[q], kind="stable") if c != q][:RERANK]
        distances = [qmax_distance(sequences[q], sequences[c]) for c in nearest]
        out[q] += 1000.0  # everything else after the re-ranked candidates, in cosine order
        out[q, nearest] = distances
    np.fill_diagonal(out, 0.0)
    return out


def essentia_distances(files: list[Path]) -> np.ndarray:
    import essentia
    import essentia.standard as es
    from essentia.pytools.spectral import hpcpgram

    essentia.log.infoActive = False
    hpcps = [hpcpgram(es.MonoLoader(filename=str(f), sampleRate=ESSENTIA_SR)(), sampleRate=ESSENTIA_SR)
             for f in files]
    cross = es.ChromaCrossSimilarity(frameStackSize=9, frameStackStride=1, binarizePercentile=0.095, oti=True)
    qmax = es.CoverSongSimilarity(disOnset=0.5, disExtension=0.5, alignmentType="serra09",
                                  distanceType="asymmetric")
    out = np.zeros((len(files), len(files)))
    for q in range(len(files)):
        for r in range(len(files)):
            if q != r:
                out[q, r] = qmax(cross(hpcps[q], hpcps[r]))[1]
    return out


class Timer:
    """Wall and CPU seconds of a ``with`` block (``wall``, ``cpu``)."""

    def __enter__(self) -> "Timer":
        self.start = (time.perf_counter(), time.process_time())
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.start[0]
        self.cpu = time.process_time() - self.start[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, default=12)
    parser.add_argument("--versions", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "covers_classic")
    parser.add_argument("--no-essentia", action="store_true", help="score the classic engine alone")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from common import pin_one_core

    pin_one_core()
    corpus = render_corpus(args.out, args.works, args.versions)
    files, works = [f for f, _ in corpus], [w for _, w in corpus]
    seconds = sum(sf_duration(f) for f in files)
    report: dict = {"works": args.works, "versions": args.versions, "recordings": len(files),
                    "audio_seconds": round(seconds, 1)}
    with Timer() as fingerprints:
        cosine, sequences = classic(files)
    report["classic"] = _scored(cosine, works, fingerprints.wall, fingerprints.cpu)
    with Timer() as reranking:
        reranked = rerank(cosine, sequences)
    report["classic_qmax"] = _scored(reranked, works, fingerprints.wall + reranking.wall,
                                     fingerprints.cpu + reranking.cpu)
    if not args.no_essentia:
        with Timer() as peer:
            distances = essentia_distances(files)
        report["essentia"] = _scored(distances, works, peer.wall, peer.cpu)
        for name in ("classic", "classic_qmax"):
            report[f"speedup_{name}_vs_essentia"] = {
                "wall": round(peer.wall / report[name]["seconds"], 2),
                "cpu": round(peer.cpu / report[name]["cpu_seconds"], 2)}
    print(json.dumps(report))


def sf_duration(path: Path) -> float:
    import soundfile as sf

    return float(sf.info(str(path)).duration)


def _scored(distances: np.ndarray, works: list[str], wall: float, cpu: float) -> dict[str, float]:
    """mAP, MR1, P@10 of a distance matrix (every recording queries the others) with the times."""
    from songscope.evaluate.metrics import cover_metrics

    metrics = {k: round(v, 4) for k, v in cover_metrics(distances, works).items()}
    return {**metrics, "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2)}


if __name__ == "__main__":
    main()
