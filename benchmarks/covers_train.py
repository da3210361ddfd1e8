"""Train CoverHunter on a synthetic covers corpus on one CPU thread and score it on works it never saw.

    python benchmarks/covers_train.py [--config configs/covers_cpu.yaml] [--synth data/covers_synth16k]
        [--features data/covers_features16k] [--out runs/covers_cpu] [--works 205] [--versions 4] [--jobs 2]

Each step is skipped when its output exists: the corpus (``--works`` works x ``--versions``
versions of ``songscope synth --engine numpy``'s composer and renderer, seed 0, written as the
mixture alone at 16 kHz mono, ``<work>_v<k>.wav``, plus ``works.csv``); ``songscope covers
features`` with the config's data settings (speed variants, the split holding 15 % of the works
out whole); ``heldout.txt``, the held-out works' original recordings; training
(``torch.set_num_threads(1)``); then the exported model's mAP, MR1 and P@10 on ``heldout.txt``,
every recording searched among the others: with CoverHunterMPS's chunked distance (the smallest
cosine distance between 20 s chunks), with the engine's one embedding per recording (its first
chunk), and with the mean of its chunks' embeddings. Prints one JSON object (with the training
CPU time and the per-epoch curve).

Measured (configs/covers_cpu.yaml as committed, one torch thread, shared 2-core machine):
205 works x 4 versions x 3 speeds = 2460 feature lines (1750 train, 175 val, 535 test); 30 works
held out whole (120 recordings, each searched among the other 119), 175 works trained on; 327k
parameters (``foc.output_dims`` 256: the focal head needs a class per training work); 162 steps
of batch 32 an epoch, 40 epochs = 6480 steps. ``python benchmarks/covers_train.py --features
data/covers_features16k_205 --out runs/verify205`` (one 40-epoch run; the corpus and features of
the pilot below reused): training 2353 CPU-s (2494 s wall); best validation loss 0.003 at epoch
40 (the exported model). Held-out: chunked mAP **0.937**, MR1 1.02, P@10 0.297; first chunk (the
engine's embedding) mAP **0.907**, MR1 1.02, P@10 0.288; mean of chunks mAP 0.956, MR1 1.02, P@10
0.298. Held-out mAP (chunked) per epoch: 0.10 0.08 0.10 0.13 0.15 0.15 0.15 0.16 0.20 0.21 |
0.23 0.26 0.27 0.32 0.36 0.39 0.48 0.57 0.60 0.70 | 0.64 0.67 0.76 0.80 0.82 0.80 0.82 0.85 0.84
0.83 | 0.89 0.89 0.87 0.90 0.93 0.93 0.92 0.93 0.94 0.94; validation loss 5.18 at epoch 1, 0.56
at 20, 0.06 at 30, 0.003 at 40. The pilot (the same settings run for 19 epochs, stopped, and
resumed to 40 from ``last.pt``) gave the same curve and numbers to the last digit.

With 105 works (15 held out, 60 recordings; ``foc.output_dims`` 128, 84 steps an epoch, 40
epochs = 3360 steps, 1192 CPU-s in one run, 596 MB peak) the same recipe levelled off: chunked
0.766, first chunk 0.777, mean of chunks 0.756. Held-out mAP (chunked) per epoch: 0.14 0.17
0.16 0.18 0.19 0.22 0.26 0.29 0.26 0.31 | 0.29 0.31 0.33 0.33 0.37 0.37 0.37 0.39 0.43 0.49 |
0.48 0.51 0.56 0.63 0.58 0.63 0.63 0.70 0.71 0.72 | 0.72 0.77 0.79 0.76 0.79 0.78 0.76 0.74 0.76
0.77, flat from epoch 32 while the validation loss (training works) fell to 0.02: the model
overfit 90 training works, and more works was the lever.

105 works without the two augmentations (CoverHunter's default roll: +-12 bins with
probability 0.5; no time stretch): ``python benchmarks/covers_train.py --works 105 --jobs 2``
with ``max_epochs: 20``, then again with 40 (resumed); training 650 + 509 = 1159 CPU-s (946 + 537
s wall); best validation loss 0.37 at epoch 39. Held-out: chunked mAP 0.552, MR1 2.60, P@10
0.238; first chunk mAP 0.666, MR1 1.67, P@10 0.257; mean of chunks mAP 0.654, MR1 1.95, P@10
0.250; at 20 epochs 0.535 / 0.571 / 0.555, ahead of the augmented run then. Held-out mAP
(chunked) per epoch: 0.15 0.17 0.18 0.19 0.22 0.25 0.32 0.39 0.36 0.42 | 0.42 0.43 0.47 0.47 0.49
0.50 0.49 0.48 0.53 0.54 | 0.48 0.53 0.54 0.54 0.55 0.58 0.54 0.55 0.55 0.53 | 0.57 0.59 0.55 0.54
0.57 0.58 0.59 0.57 0.55 0.52: it levels off at ~0.55 from epoch 25. The augmentations cost
speed early and win late (presumably: with every chunk transposed and re-timed, the training
works cannot be told apart by key and tempo).
The mean of chunks beat the first chunk on 205 works (0.956 against 0.907) and in the 61-work
run below (0.715 against 0.681) but in neither 105-work run (0.756 / 0.777, 0.654 / 0.666); the
engine keeps CoverHunterMPS's first-chunk embedding (their ``identify``'s), which the held-out
numbers alone would not be a clean reason to change. (Works 0-39 of the earlier corpus, 44.1 kHz renders resampled to 16 kHz,
were deleted with their worktree; these runs rendered them again at 16 kHz with
``_render_work``, as the script does.)

Pilot: 61 works (9 held out), the two augmentations: held-out mAP per epoch 0.22 0.30 0.39 0.42
0.41 0.50 0.47 0.49 0.53 0.48 against 0.21 0.26 0.37 0.43 0.50 0.53 0.60 0.59 0.62 0.61 without
them (the 30-epoch run below): slower early, as on 105 works (it stopped at epoch 11 when the
first 40 works' audio vanished).
Earlier run (61 works x 4 versions x 3 speeds, 9 held out, 30 epochs = 1440 steps, 2409 s wall,
~0.34 CPU-s a step): chunked mAP 0.679, MR1 1.36, P@10 0.261; first chunk mAP 0.681, MR1 1.64;
mean of chunks mAP 0.715, MR1 1.39; it levelled off at ~0.7 from epoch 13.
Earlier setting (40 works, 10 held out, 5 speeds, 30/24/18 s chunks at mean_size 3, 1350 steps,
44 min): chunked mAP 0.649, first chunk 0.681. Rolling the bins by 4 instead of 12 did worse (0.50
after 20 epochs). Triplet weight 1.0 instead of 0.1 (same data and config otherwise, run beside
it and stopped at epoch 22: 1056 steps in 420 CPU-s with validation): held-out mAP 0.51 at epoch
11 (against 0.63) and 0.65 at epoch 22 (against 0.65): no better.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from songscope.covers.dataset import prepare_features, read_data_hparams, read_list, write_list
from songscope.covers.train_config import CoverHunterTrainConfig, steps_per_epoch

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_RATE = 16000
WORKS, VERSIONS = 205, 4


def _render_work(args: tuple[Path, int, int, int]) -> list[tuple[str, str]]:
    """Render one work's versions as 16 kHz mono mixtures (``<track>.wav``); returns (path, work) rows."""
    from songscope.audio.save import save_audio
    from songscope.synth.render import render_song
    from songscope.synth.works import arrange, compose_work, make_versions

    folder, w, versions, seed = args
    work = compose_work(seed * 100003 + w, f"work{w:04d}")
    rows = []
    for version in make_versions(work, versions, seed):
        path = folder / f"{version.version_id}.wav"
        if not path.exists():
            save_audio(path, render_song(arrange(work, version), SAMPLE_RATE, seed=version.seed)["mixture"],
                       SAMPLE_RATE)
        rows.append((path.name, work.work_id))
    return rows


def prepare_corpus(synth: Path, works: int, versions: int, jobs: int) -> Path:
    """Render the corpus (tracks already there are kept) and write ``works.csv``; returns the folder.

    The works and versions are ``songscope synth --engine numpy``'s (same composer, versions and
    renderer, seed 0), written as the mixture alone at 16 kHz mono (the features' rate): the
    synth command's 44.1 kHz stereo stems would take ~80 MB a track."""
    from concurrent.futures import ProcessPoolExecutor

    synth.mkdir(parents=True, exist_ok=True)
    tasks = [(synth, w, versions, 0) for w in range(works)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        rows = [row for work_rows in pool.map(_render_work, tasks) for row in work_rows]
    (synth / "works.csv").write_text("path,work\n" + "".join(f"{path},{work}\n" for path, work in rows))
    return synth


def heldout_list(features: Path) -> Path:
    """``heldout.txt``: the original recordings (no speed variant) of the works held out whole;
    exits when any line of ``train.txt`` or ``val.txt`` belongs to one of those works."""
    held = {json.loads(line) for line in (features / "test-only-work-ids.txt").read_text().split()}
    seen = {row["work_id"] for name in ("train.txt", "val.txt") for row in read_list(features / name)}
    if held & seen:
        sys.exit(f"held-out works {sorted(held & seen)} are in train.txt or val.txt")
    rows = [row for row in read_list(features / "test.txt")
            if row["work_id"] in held and not row["perf"].startswith("sp_")]
    return write_list(features / "heldout.txt", rows)


def score(model: Path, heldout: Path) -> dict[str, dict[str, float]]:
    """mAP / MR1 / P@10 of the exported model on the held-out recordings, three ways: chunked
    (the smallest distance between chunks), the first chunk's embedding (the engine's, as
    CoverHunterMPS's ``identify``), and the mean of the chunks' unit embeddings (re-normalised):
    one vector per recording for the last two."""
    from songscope.covers.embedding import network_input, unit_embeddings
    from songscope.covers.features import chunk_features, mean_pool
    from songscope.covers.training import chunk_starts, read_items, testset_metrics
    from songscope.evaluate.metrics import cover_metrics
    from songscope.models import load_engine

    net = load_engine("covers", str(model), device="cpu").net
    config = net.config
    items = read_items(heldout)
    works = [item.work_id for item in items]
    chunked = testset_metrics(net, items, None, config)
    first = unit_embeddings(net, np.stack([network_input(np.load(item.feat), config) for item in items]))
    means = []
    for item in items:
        features = np.load(item.feat)
        inputs = [mean_pool(chunk_features(features, config.chunk_input_frames, start), config.mean_size)
                  for start in chunk_starts(item, config)]
        means.append(unit_embeddings(net, np.stack(inputs)).mean(axis=0))
    mean = np.stack(means) / np.linalg.norm(means, axis=1, keepdims=True)
    return {name: {k: round(v, 4) for k, v in metrics.items()} for name, metrics in
            (("chunked", chunked), ("first_chunk", cover_metrics(1.0 - first @ first.T, works)),
             ("mean_of_chunks", cover_metrics(1.0 - mean @ mean.T, works)))}


def main() -> None:
    import torch

    from songscope.covers.training import train_coverhunter
    from songscope.models.converters import read_checkpoint

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "covers_cpu.yaml")
    parser.add_argument("--synth", type=Path, default=ROOT / "data" / "covers_synth16k")
    parser.add_argument("--features", type=Path, default=ROOT / "data" / "covers_features16k")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: the config's)")
    parser.add_argument("--works", type=int, default=WORKS, help="works to render")
    parser.add_argument("--versions", type=int, default=VERSIONS, help="versions of each work")
    parser.add_argument("--jobs", type=int, default=2, help="render and feature worker processes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    corpus = prepare_corpus(args.synth, args.works, args.versions, args.jobs)
    start = time.perf_counter()
    report = prepare_features(corpus, args.features, read_data_hparams(args.config), jobs=args.jobs)
    features_seconds = time.perf_counter() - start
    heldout = heldout_list(args.features)
    config = CoverHunterTrainConfig.load(args.config).with_hparams(
        {"train_path": str(args.features / "train.txt"), "val_path": str(args.features / "val.txt"),
         "heldout": {"query_path": str(heldout), "ref_path": str(heldout)}})
    if args.out is not None:
        config = replace(config, train=replace(config.train, out_dir=str(args.out)))
    start, cpu_start = time.perf_counter(), time.process_time()
    result, model = train_coverhunter(config, progress=sys.stderr.isatty())
    train_seconds, train_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    epoch_steps = steps_per_epoch([row["work_id"] for row in read_list(config.hparams.train_path)], config.hparams)
    with open(Path(config.train.out_dir) / "metrics.csv", newline="") as handle:
        logged = [r for r in csv.DictReader(handle) if r.get("val/mAP_heldout")]
    at_best = next(r for r in logged if int(r["step"]) == result.best_step)
    print(json.dumps({
        "data": {"works": args.works, "versions": args.versions, "engine": "numpy", "lines": report.lines,
                 "splits": report.splits, "heldout_works": len(report.test_only_works),
                 "heldout_recordings": len(read_list(heldout))},
        "config": str(args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT) else args.config),
        "parameters": sum(v.numel() for v in read_checkpoint(model).state_dict.values()),
        "features_seconds": round(features_seconds, 1), "features_computed": report.computed,
        "train": {"seconds": round(train_seconds, 1), "cpu_seconds": round(train_cpu, 1),
                  "threads": torch.get_num_threads(), "steps": result.step,
                  "epochs": round(result.step / epoch_steps, 2), "best_epoch": round(result.best_step / epoch_steps, 2),
                  "best_val_loss": round(result.best_loss, 4), "stopped_early": result.stopped_early},
        "heldout": {**score(model, heldout), "logged_at_best_epoch": {
            k: round(float(at_best[f"val/{k}_heldout"]), 4) for k in ("mAP", "MR1", "P@10")}},
        "curve": [{"epoch": round(int(r["step"]) / epoch_steps, 2), "val_loss": round(float(r["val/loss"]), 3),
                   "mAP_heldout": round(float(r["val/mAP_heldout"]), 3)} for r in logged],
    }, indent=2))


if __name__ == "__main__":
    main()
