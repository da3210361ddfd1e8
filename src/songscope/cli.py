"""The ``songscope`` command. Each subcommand is a thin layer over the Python API.

Errors print one line (``songscope: error: ...``) and exit non-zero; set
``SONGSCOPE_DEBUG=1`` to see tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from .errors import InputError, Interrupted, SongscopeError
from .version import __version__

__all__ = ["main"]


def _meters(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected beats per bar like '3,4', got {text!r}") from None
    if not values or any(v < 1 or v > 12 for v in values):
        raise argparse.ArgumentTypeError(f"beats per bar must be between 1 and 12, got {text!r}")
    return values


def _add_analyze(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="tempo, beats, downbeats, meter, key and sections (allin1-compatible)",
                       description="Analyze recordings and write allin1-compatible JSON per input.")
    p.add_argument("paths", nargs="+", type=Path, help="audio files and/or folders (searched recursively)")
    p.add_argument("-o", "--out-dir", type=Path, default=Path("./struct"), help="where to write <name>.json (default ./struct)")
    p.add_argument("-v", "--visualize", action="store_true", help="save a figure per track")
    p.add_argument("--viz-dir", type=Path, default=Path("./viz"), help="figure folder (default ./viz)")
    p.add_argument("--viz-format", choices=("pdf", "png", "svg"), default="pdf", help="figure format (default pdf)")
    p.add_argument("-s", "--sonify", action="store_true", help="save <name>.sonif.wav with clicks and section chimes")
    p.add_argument("--sonif-dir", type=Path, default=Path("./sonif"), help="sonification folder (default ./sonif)")
    p.add_argument("-a", "--activ", action="store_true", help="write <name>.activ.npz (beat, downbeat, segment, label)")
    p.add_argument("-e", "--embed", action="store_true", help="write embeddings (the classic engine has none)")
    p.add_argument("-m", "--model", default="classic",
                   help="structure model: classic (default, no weights), a name, a checkpoint, or A,B (ensemble)")
    p.add_argument("-d", "--device", default=None, help="cpu, cuda or mps for neural models (the classic engine uses the CPU)")
    p.add_argument("-k", "--keep-byproducts", action="store_true",
                   help="keep frame features in --spec-dir and (with --demix) stems in --demix-dir")
    p.add_argument("--demix", nargs="?", const="classic", default=None, metavar="MODEL",
                   help="separate stems first (default engine: classic; or a separation model/checkpoint)")
    p.add_argument("--demix-dir", type=Path, default=Path("./demix"), help="stem folder for --demix (default ./demix)")
    p.add_argument("--spec-dir", type=Path, default=Path("./spec"), help="feature folder for -k (default ./spec)")
    p.add_argument("--overwrite", action="store_true", help="recompute existing results (the default; allin1 flag)")
    p.add_argument("--skip-existing", action="store_true", help="reuse a track whose every requested output exists (else compute it again)")
    p.add_argument("--no-multiprocess", action="store_true", help="analyze files one after another")
    p.add_argument("-j", "--jobs", type=int, default=None, help="worker processes (default: CPU cores)")
    p.add_argument("--meters", type=_meters, default=None, help="beats per bar to consider, e.g. 2,3,4 (default: 3,4)")
    p.add_argument("--min-bpm", type=float, default=None, help="slowest tempo in BPM (default: the decoder's, 55)")
    p.add_argument("--max-bpm", type=float, default=None, help="fastest tempo in BPM (default: the decoder's, 215)")
    p.add_argument("--key-model", default="classic",
                   help="key model: classic (default), stone12, stone24, a checkpoint path, or A,B (averaged)")
    p.add_argument("--jams", action="store_true", help="also write <name>.jams")
    p.add_argument("--audacity", action="store_true", help="also write <name>.labels.txt (Audacity label track)")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-file summary or progress bar")
    p.set_defaults(run=_run_analyze)


def _summary(result) -> str:
    labels = " ".join(s.label for s in result.segments)
    return (f"{result.path}: {result.bpm} BPM, {result.time_signature}, {result.key or result.key_signature}, "
            f"{len(result.beats)} beats, sections: {labels}")


def _run_analyze(args: argparse.Namespace) -> int:
    from .library.inputs import expand_inputs
    from .library.runner import default_jobs
    from .pipeline import AnalyzeOptions, load_engines, run_analysis
    from .writers import OutputPlan

    _check_jobs(args.jobs)
    plan = OutputPlan(out_dir=args.out_dir, activations=args.activ, embeddings=args.embed, jams=args.jams,
                      audacity=args.audacity, viz_dir=args.viz_dir if args.visualize else None,
                      viz_format=args.viz_format, sonif_dir=args.sonif_dir if args.sonify else None,
                      spec_dir=args.spec_dir if args.keep_byproducts else None,
                      demix_dir=args.demix_dir if args.keep_byproducts and args.demix else None)
    decoder = {name: value for name, value in (("meters", args.meters), ("min_bpm", args.min_bpm),
                                               ("max_bpm", args.max_bpm)) if value is not None}
    options = AnalyzeOptions(model=args.model, key_model=args.key_model, demix_model=args.demix, device=args.device,
                             plan=plan, skip_existing=args.skip_existing, **decoder)
    load_engines(options)
    files = expand_inputs(args.paths)
    jobs = 1 if args.no_multiprocess else (args.jobs or default_jobs())
    progress = len(files) > 1 and _bars_wanted(args)
    results, failures = run_analysis(files, options, jobs=jobs, progress=progress)
    if not args.quiet:
        for result in results:
            print(_summary(result))
    if args.embed and any(r.embeddings is None for r in results):
        print(f"songscope: note: model {args.model!r} has no embeddings; -e wrote none", file=sys.stderr)
    if failures:
        return _report_failures(failures, len(files))
    if not args.quiet and len(files) > 1:
        print(f"songscope: analyzed {len(results)} files -> {args.out_dir}", file=sys.stderr)
    return 0


def _add_key(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("key", help="key and key signature of recordings",
                       description="Estimate key, key signature, mode and a confidence per input.")
    p.add_argument("paths", nargs="+", type=Path, help="audio files and/or folders (searched recursively)")
    p.add_argument("-m", "--model", default="classic",
                   help="classic (default, no weights), stone12, stone24, a checkpoint path, or A,B (averaged)")
    p.add_argument("-d", "--device", default=None, help="cpu, cuda or mps for neural models (default: best available)")
    p.add_argument("--overlap", type=float, default=0.0, help="window overlap in [0, 1) for neural models")
    p.add_argument("--per-window", action="store_true", help="also report the label of every window")
    p.add_argument("--format", choices=("json", "csv"), default="json", help="output format (default json)")
    p.add_argument("-o", "--out-dir", type=Path, default=None,
                   help="write keys.json (or keys.csv) in this folder instead of printing the table")
    p.add_argument("--output-file", type=Path, default=None, help="write the table to this file instead")
    p.add_argument("-j", "--jobs", type=int, default=1, help="files analysed in parallel (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no warnings")
    p.set_defaults(run=_run_key)


def _key_row(path: Path, model: str, device: str | None, overlap: float, per_window: bool) -> dict:
    """One ``songscope key`` row; runs in a worker process."""
    from .key.api import estimate_key

    estimate = estimate_key(path, model=model, device=device, overlap=overlap)
    return {"path": str(path), **estimate.to_dict(per_window=per_window)}


def _run_key(args: argparse.Namespace) -> int:
    import csv
    import functools
    import io
    import json

    from .atomic import write_text
    from .key.api import key_engine
    from .key.classic import WEAK_CLARITY
    from .library.inputs import expand_inputs
    from .library.runner import run_batch

    if args.out_dir is not None and args.output_file is not None:
        raise InputError("give -o/--out-dir or --output-file, not both")
    _check_jobs(args.jobs)
    key_engine(args.model, args.device, args.overlap)
    files = expand_inputs(args.paths)
    one = functools.partial(_key_row, model=args.model, device=args.device, overlap=args.overlap,
                            per_window=args.per_window)
    rows, failures = run_batch(one, files, jobs=args.jobs, progress=len(files) > 1 and _bars_wanted(args), desc="key")
    rows = [r for r in rows if r is not None]
    for row in rows if not args.quiet else ():
        if row.get("clarity") is not None and row["clarity"] < WEAK_CLARITY:
            print(f"songscope: warning: {row['path']}: little tonal evidence (key clarity {row['clarity']:.2f}); "
                  "the key is unreliable", file=sys.stderr)
    if args.format == "json":
        text = json.dumps(rows if len(files) > 1 else (rows[0] if rows else []), indent=2, ensure_ascii=False) + "\n"
    else:
        buffer = io.StringIO()
        fields = ["path", "key", "key_signature", "mode", "confidence", "model"]
        writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    target = args.output_file or (args.out_dir / f"keys.{args.format}" if args.out_dir is not None else None)
    if rows and target is not None:
        write_text(target, text)
    elif rows:
        sys.stdout.write(text)
    return _report_failures(failures, len(files))


def _add_separate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("separate", help="split recordings into bass, drums, other and vocals stems",
                       description="Separate files and folders into OUT/<track>/<stem>.wav, in bounded memory.")
    p.add_argument("paths", nargs="+", type=Path, help="audio files and/or folders (searched recursively)")
    p.add_argument("-o", "--out-dir", type=Path, default=Path("separated"), help="output root (default ./separated)")
    p.add_argument("-m", "--model", "--checkpoint", dest="model", default="classic",
                   help="classic (default, no weights), a name, a checkpoint path, or several comma-separated "
                        "models combined (e.g. one model per stem)")
    p.add_argument("--stems", default=None, help="stems to write, e.g. vocals,drums (default: all)")
    p.add_argument("--two-stems", default=None, metavar="STEM", help="write STEM and no_STEM (mixture minus STEM)")
    p.add_argument("--residual", action="store_true", help="also write residual = mixture minus the written stems")
    p.add_argument("--exact-sum", action="store_true", help="make the stems add up to the mixture exactly")
    p.add_argument("--window", type=float, default=None, help="chunk length in seconds (default: the model's)")
    p.add_argument("--overlap", type=float, default=None, help="fraction of a chunk shared with the next (default 0.25)")
    p.add_argument("--format", choices=("wav", "flac", "wav32"), default="wav",
                   help="wav (16-bit, default), flac (24-bit) or wav32 (float)")
    p.add_argument("-d", "--device", default=None, help="cpu, cuda or mps for neural models (default: best available)")
    p.add_argument("-j", "--jobs", type=int, default=1, help="files separated in parallel (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no list of written files")
    p.set_defaults(run=_run_separate)


def _run_separate(args: argparse.Namespace) -> int:
    from .errors import BatchError
    from .library.inputs import expand_inputs
    from .separation.api import SeparateOptions, separate

    _check_jobs(args.jobs)
    if args.two_stems and (args.stems or args.residual):
        raise InputError("--two-stems cannot be combined with --stems or --residual")
    options = SeparateOptions(stems=tuple(args.stems.split(",")) if args.stems else None, two_stems=args.two_stems,
                              residual=args.residual, exact_sum=args.exact_sum, window_seconds=args.window,
                              format=args.format, **({} if args.overlap is None else {"overlap": args.overlap}))
    files = expand_inputs(args.paths)
    try:
        done = separate(files, args.out_dir, model=args.model, device=args.device,
                        options=options, jobs=args.jobs, progress=_bars_wanted(args))
        failures = []
    except BatchError as exc:
        done, failures = exc.results, exc.failures
    for stems in (done.values() if isinstance(done, dict) else done) if not args.quiet else ():
        print(" ".join(str(p) for p in stems.values()))
    return _report_failures(failures, len(files))


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model from a config file",
                       description="Train a model family through songscope's shared training loop. NAME is a task "
                                   "(key, separation, ...; the config's `family` picks the family) or a family.")
    p.add_argument("name", metavar="NAME", help="task or family to train, e.g. key, separation, bsrnn")
    p.add_argument("--config", type=Path, required=True, help="TOML or JSON config (see configs/)")
    p.add_argument("--data", type=Path, default=None, help="training data (overrides the config's data)")
    p.add_argument("--out-dir", type=Path, default=None, help="run folder (overrides the config)")
    p.add_argument("--steps", type=int, default=None, help="optimisation steps (overrides the config)")
    p.add_argument("-d", "--device", default=None, help="cpu, cuda or mps (default: the config, else best available)")
    p.add_argument("--restart", action="store_true", help="ignore last.pt in the run folder and start afresh")
    p.add_argument("--tune", type=Path, default=None, metavar="FILE",
                   help="hyper-parameter search from a tuning file (coverhunter: CoverHunterMPS's hp_tuning.yaml)")
    p.add_argument("--prod", action="store_true",
                   help="production training (coverhunter: k folds, then all the data; resumes where it stopped)")
    folds = p.add_mutually_exclusive_group()
    folds.add_argument("--fold", type=int, default=None, metavar="K",
                       help="validation fold K (families with folds, e.g. allinone; overrides the config)")
    folds.add_argument("--folds", choices=("all",), default=None,
                       help="all: train every fold, then write their ensemble as OUT/model.pt")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from .train.run import train_model

    result, written = train_model(args.name, args.config, data=args.data, out_dir=args.out_dir, steps=args.steps,
                                  device=args.device, restart=args.restart, progress=_bars_wanted(args),
                                  tune=args.tune, prod=args.prod,
                                  fold=args.folds if args.folds is not None else args.fold)
    if result is None:  # a search: its summary
        sys.stdout.write(written.read_text(encoding="utf-8"))
        print(f"summary: {written}")
        return 0
    print(f"trained {result.step} steps (best validation loss {result.best_loss:.4f} at step {result.best_step}"
          f"{', stopped early' if result.stopped_early else ''}); model: {written}")
    report = written.parent / "prod_report.txt"
    if args.prod and report.exists():
        sys.stdout.write(report.read_text(encoding="utf-8"))
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a structure model to ONNX",
                       description="Write an All-In-One model (a path or a name, e.g. harmonix-fold0) as an ONNX graph "
                                   "of fixed length: a (1, 4, FRAMES, 81) spectrogram in; beat, downbeat, section, "
                                   "function logits and embeddings out. Longer inputs go through it in chunks.")
    p.add_argument("model", help="All-In-One checkpoint or name (one model, not an ensemble)")
    p.add_argument("-o", "--output", type=Path, required=True, help="the .onnx file to write")
    p.add_argument("--frames", type=int, default=6000, help="input length in frames at 100 fps (default 6000)")
    p.set_defaults(run=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from .models.registry import load_engine

    engine = load_engine("structure", args.model, "cpu")
    models = getattr(engine, "models", None)
    if engine.family != "allinone" or not models or len(models) != 1:
        raise InputError(f"{args.model}: export takes one All-In-One model (not {engine.family}"
                         f"{', an ensemble' if models and len(models) > 1 else ''})")
    from .structure.allinone.export import export_onnx

    print(f"wrote {export_onnx(models[0], args.output, args.frames)}")
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="score estimates against references (mir_eval metrics)",
                       description="Pair references and estimates by track name and print the field's metrics. "
                                   "Files: .jams, .beats/.txt, songscope/allin1 result .json, path,key .csv; for "
                                   "separation, folders of track folders with bass/drums/other/vocals.wav; for "
                                   "covers, a works CSV (a synth manifest) and an .npz of names + distances or "
                                   "embeddings, or audio with -m.")
    p.add_argument("task", choices=("beats", "structure", "key", "separation", "covers"),
                   help="what to evaluate")
    p.add_argument("references", type=Path, help="reference file or folder")
    p.add_argument("estimates", type=Path,
                   help="estimate file or folder; with -m, the audio files or folder to run the model on")
    p.add_argument("-m", "--model", default=None,
                   help="run this model (name, path, A,B) on the audio and score its predictions directly; "
                        "for separation the references' mixture files are separated")
    p.add_argument("-d", "--device", default=None, help="cpu, cuda or mps for neural models")
    p.add_argument("--per-track", action="store_true", help="one row per track")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    covers = p.add_argument_group("covers", "REFERENCES is a works CSV, ESTIMATES the reference set (.npz, or audio "
                                            "with -m)")
    covers.add_argument("--queries", type=Path, default=None,
                        help="a query set apart from the references (.npz, or audio with -m)")
    covers.add_argument("--query-in-ref", type=Path, default=None,
                        help="CoverHunterMPS query_in_ref JSON: (query, reference) pairs that are one performance "
                             "(default: pairs with the same track name)")
    covers.add_argument("--distances", type=Path, default=None, help="save the distance matrix (.npz)")
    covers.add_argument("--tsne", type=Path, default=None, help="save a t-SNE map (.png) marking test-only works")
    covers.add_argument("-j", "--jobs", type=int, default=1, help="files embedded in parallel with -m (default 1)")
    p.set_defaults(run=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    import json

    from .evaluate import evaluate, evaluate_model

    covers_only = [f"--{name.replace('_', '-')}" for name in ("queries", "query_in_ref", "distances", "tsne")
                   if getattr(args, name) is not None]
    if args.task == "covers":
        from .evaluate.covers import evaluate_covers

        _check_jobs(args.jobs)
        result = evaluate_covers(args.references, args.estimates, args.queries, args.query_in_ref, args.model,
                                 args.device, args.jobs, args.distances, args.tsne)
    elif covers_only:
        raise InputError(f"{', '.join(covers_only)} apply to `evaluate covers` only")
    elif args.model is None:
        result = evaluate(args.task, args.references, args.estimates)
    else:
        result = evaluate_model(args.task, args.references, args.estimates, args.model, args.device)
    report = result.to_dict(per_track=args.per_track)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    metrics = list(report["mean"])
    rows = list(report.get("per_track", {}).items()) + [(f"mean ({report['tracks']} tracks)", report["mean"])]
    if "median" in report:
        rows.append((f"median ({report['tracks']} tracks)", report["median"]))
    width = max(len(name) for name, _ in rows)
    print(f"{'track':<{width}}  " + "  ".join(f"{m:>14}" for m in metrics))
    for name, row in rows:
        cells = ("-" if row.get(m) is None else f"{row[m]:.4f}" for m in metrics)
        print(f"{name:<{width}}  " + "  ".join(f"{c:>14}" for c in cells))
    for side, names in report.get("unmatched", {}).items():
        if names:
            print(f"songscope: warning: {len(names)} {side} without a partner, e.g. {names[0]}", file=sys.stderr)
    return 0


def _add_synth(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="render a synthetic multitrack corpus with exact ground truth",
                       description="Compose works, perform versions (covers) of each, render mixture and stems "
                                   "(bass, drums, other, vocals) and write beats, downbeats, tempo, key and "
                                   "sections as JAMS and result JSON, with a manifest, in a MUSDB-style layout.")
    p.add_argument("out", type=Path, help="dataset folder")
    p.add_argument("--works", type=int, default=20, help="number of works (default 20)")
    p.add_argument("--versions", type=int, default=3, help="versions per work; 1 = no covers (default 3)")
    p.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    p.add_argument("--test-fraction", type=float, default=0.25, help="share of works in test/ (default 0.25)")
    p.add_argument("--engine", choices=("soundfont", "numpy"), default="soundfont",
                   help="soundfont: General-MIDI instruments through FluidSynth (default); numpy: built-in")
    p.add_argument("--soundfont", default=None,
                   help="a GM soundfont (.sf2/.sf3), or several separated by commas, taken in turn per track "
                        "(default: $SONGSCOPE_SOUNDFONT or the system's)")
    p.add_argument("--sample-rate", type=int, default=44100, help="Hz (default 44100)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_run_synth)


def _run_synth(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .synth.dataset import write_dataset

    if args.sample_rate < 8000:
        raise InputError("--sample-rate must be at least 8000")
    with tqdm(total=args.works * args.versions, desc="synth", unit="track", file=sys.stderr,
              disable=not _bars_wanted(args)) as bar:
        manifest = write_dataset(args.out, args.works, args.versions, args.seed, args.test_fraction, args.engine,
                                 args.sample_rate, args.soundfont, progress=lambda done, total: bar.update(1))
    print(f"wrote {args.works * args.versions} tracks; manifest: {manifest}")
    return 0


def _add_covers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("covers", help="cover-song identification: training data, fingerprints, searches",
                       description="Cover-song identification: CoverHunterMPS training data (features); a store of reference "
                                   "performances (embeddings of one covers model, classic by default, in a FAISS "
                                   "index, works and files in SQLite) built, extended and calibrated (index, add, "
                                   "calibrate); the references of query recordings (identify). "
                                   "`covers ACTION -h` for help.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    features = actions.add_parser(
        "features", help="CoverHunterMPS training data: features, full.txt, train/val/test splits",
        description="Do what CoverHunterMPS's tools/extract_csi_features.py does: speed variants, CQT features "
                    "(OUT/cqt_feat/<perf>.cqt.npy), full.txt, work_id.map and the train/val/test split by work. "
                    "Features that exist are not computed again.")
    features.add_argument("dataset", type=Path,
                          help="CoverHunterMPS's dataset.txt, or a folder of audio with a CSV of path,work rows")
    features.add_argument("out", type=Path, help="output folder (their feat_dir)")
    features.add_argument("--works", type=Path, default=None,
                          help="with a folder: the CSV of path,work rows (default DATASET/works.csv)")
    features.add_argument("--hparams", type=Path, default=None,
                          help="data-preparation hparams.yaml (fmin, n_bins, aug_speed_mode, add_noise, split "
                               "fractions, seed; default OUT/hparams.yaml, else the dataset's folder's, else none)")
    features.add_argument("-j", "--jobs", type=int, default=1, help="worker processes (default 1)")
    features.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    features.set_defaults(run=_run_covers_features)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-j", "--jobs", type=int, default=1, help="files embedded in parallel (default 1)")
    common.add_argument("-d", "--device", default=None, help="cpu, cuda or mps for neural models")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    works = argparse.ArgumentParser(add_help=False)
    works.add_argument("--works", type=Path, default=None,
                       help="CSV with a path, file or track column and a work or work_id column "
                            "(default: every file is its own work)")
    index = actions.add_parser("index", parents=[common, works], help="embed performances into a store (REFS)")
    index.add_argument("paths", nargs="+", type=Path,
                       help="audio files, folders (searched recursively) and/or CoverHunterMPS lists (full.txt, "
                            "dataset.txt: their wav and work fields)")
    index.add_argument("-o", "--out", "--refs", dest="refs", type=Path, required=True, help="the store folder")
    index.add_argument("-m", "--model", default="classic", help="covers model: classic (default, no weights), "
                                                                 "a CoverHunter checkpoint, ...")
    index.add_argument("--centroids", action="store_true", help="also keep one embedding per work")
    index.set_defaults(run=_covers_index)
    add = actions.add_parser("add", parents=[common, works], help="add performances to a store (skips known content)")
    add.add_argument("refs", type=Path, help="the store folder")
    add.add_argument("paths", nargs="+", type=Path, help="audio files, folders and/or CoverHunterMPS lists")
    add.set_defaults(run=_covers_add)
    identify = actions.add_parser("identify", parents=[common], help="the nearest references of query recordings")
    identify.add_argument("paths", nargs="+", type=Path, help="query audio files and/or folders")
    identify.add_argument("--refs", type=Path, required=True, help="the store folder")
    identify.add_argument("-k", type=int, default=10, help="matches per query (default 10)")
    identify.add_argument("--centroids", action="store_true", help="rank works (their centroids), not performances")
    identify.add_argument("--rerank", type=int, default=0, metavar="N",
                          help="re-order the N nearest with the model's re-ranker (classic: Qmax)")
    identify.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    identify.add_argument("-m", "--model", default=None,
                          help="the model to embed the queries with (default: the store's; another is refused)")
    identify.set_defaults(run=_covers_identify)
    calibrate = actions.add_parser("calibrate", parents=[common],
                                   help="fit the store's confidences on validation recordings of known works")
    calibrate.add_argument("refs", type=Path, help="the store folder")
    calibrate.add_argument("paths", nargs="+", type=Path,
                           help="validation audio files, folders and/or CoverHunterMPS lists (e.g. val.txt)")
    calibrate.add_argument("--works", type=Path, default=None,
                           help="CSV: the work of every validation file that no list names")
    calibrate.set_defaults(run=_covers_calibrate)


def _run_covers_features(args: argparse.Namespace) -> int:
    from .covers.dataset import prepare_features, read_data_hparams

    _check_jobs(args.jobs)
    hparams = args.hparams
    if hparams is None:
        folder = args.dataset if args.dataset.is_dir() else args.dataset.parent
        hparams = next((p for p in (args.out / "hparams.yaml", folder / "hparams.yaml") if p.is_file()), None)
    report = prepare_features(args.dataset, args.out, read_data_hparams(hparams), works_csv=args.works,
                              jobs=args.jobs, progress=_bars_wanted(args))
    for note in report.notes:
        print(f"songscope: note: {note}", file=sys.stderr)
    if not args.quiet:
        splits = ", ".join(f"{name} {count}" for name, count in report.splits.items())
        print(f"{report.full}: {report.lines} lines of {report.works} works ({report.computed} features computed); "
              f"{splits}; {len(report.test_only_works)} test-only works")
    return _report_failures(report.failures, report.performances + len(report.failures))


def _store_summary(args: argparse.Namespace, report) -> int:
    if not args.quiet:
        print(f"{len(report.added)} added, {len(report.skipped)} already in the store; {report.store}: "
              f"{report.performances} performances of {report.works} works", file=sys.stderr)
    return _report_failures(report.failures, len(report.added) + len(report.skipped) + len(report.failures))


def _covers_index(args: argparse.Namespace) -> int:
    from .covers.search import index

    _check_jobs(args.jobs)
    return _store_summary(args, index(args.paths, args.refs, args.works, args.model, args.centroids, args.jobs,
                                      args.device, _bars_wanted(args)))


def _covers_add(args: argparse.Namespace) -> int:
    from .covers.search import add

    _check_jobs(args.jobs)
    return _store_summary(args, add(args.refs, args.paths, args.works, args.jobs, args.device, _bars_wanted(args)))


def _covers_identify(args: argparse.Namespace) -> int:
    import json

    from .covers.search import identify
    from .errors import BatchError

    _check_jobs(args.jobs)
    try:
        results, failures = identify(args.paths, args.refs, args.k, args.centroids, args.rerank, args.jobs,
                                     args.device, args.model, _bars_wanted(args)), []
    except BatchError as exc:
        results, failures = exc.results, exc.failures
    if args.format == "json":
        print(json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False))
    for result in results if args.format == "text" else ():
        print(result.query)
        for rank, match in enumerate(result.matches, start=1):
            confidence = "-" if match.confidence is None else f"{match.confidence:.3f}"
            print(f"  {rank:>3}  {match.distance:9.4f}  {confidence:>6}  {match.work}  {match.path}")
    return _report_failures(failures, len(results) + len(failures))


def _covers_calibrate(args: argparse.Namespace) -> int:
    from .covers.search import calibrate

    _check_jobs(args.jobs)
    report = calibrate(args.refs, args.paths, args.works, args.jobs, args.device, _bars_wanted(args))
    if not args.quiet:
        for kind, c in report.calibrations.items():
            print(f"{kind}: confidence 0.5 at distance {c.threshold:.4f} ({c.positives} same-work and {c.negatives} "
                  f"other pairs)", file=sys.stderr)
    return _report_failures(report.failures, report.used + len(report.failures))


def _add_models(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list model families and named models; inspect or convert model files",
                       description="Without arguments: the registered families and named models of every task. "
                                   "`info FILE` describes a model file; `convert SRC DST` writes a foreign or older "
                                   "model file (STONE, public BSRNN Lightning, songscope 0.1) as a songscope "
                                   "checkpoint and says what it could not carry over.")
    p.add_argument("action", nargs="?", choices=("list", "info", "convert"), default="list")
    p.add_argument("files", nargs="*", type=Path, help="FILE for info; SRC DST for convert")
    p.set_defaults(run=_run_models)


def _writer(version: str | None) -> str:
    return f"songscope {version}" if version else "other software"


def _run_models(args: argparse.Namespace) -> int:
    from .models import CATALOG, TASKS, families

    if args.action == "list":
        for task, (what, _) in TASKS.items():
            print(f"{task}: {what}")
            for family in families(task):
                names = f" (-m {', '.join(family.builtin_names)})" if family.builtin_names else ""
                trainable = ", trainable" if family.train else ""
                print(f"  family {family.name}{names}{trainable}: {family.description}")
            for entry in (e for e in CATALOG.values() if e.task == task):
                print(f"  -m {entry.name} ({entry.family}): {entry.description}")
        return 0
    from .models.container import save_checkpoint
    from .models.converters import read_checkpoint

    wanted = 1 if args.action == "info" else 2
    if len(args.files) != wanted:
        raise InputError(f"models {args.action} takes {'FILE' if wanted == 1 else 'SRC DST'}")
    checkpoint = read_checkpoint(args.files[0])
    if args.action == "info":
        weights = sum(int(v.numel()) for v in checkpoint.state_dict.values())
        print(f"{args.files[0]}: family {checkpoint.family}, {len(checkpoint.state_dict)} tensors, {weights} values, "
              f"{len(checkpoint.labels)} labels, written by {_writer(checkpoint.songscope_version)}"
              f"{', a training checkpoint' if checkpoint.training else ''}")
    else:
        checkpoint.training = None
        print(f"wrote {save_checkpoint(checkpoint, args.files[1])} (family {checkpoint.family})")
    for note in checkpoint.notes:
        print(f"songscope: note: {note}", file=sys.stderr)
    return 0


def _add_library(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("library", help="a catalog of your music: add files, run analyses once, query, export",
                       description="Keep a library's tracks and every result in one SQLite catalog: results are "
                                   "computed once per content and settings, a run resumes where it stopped, and "
                                   "the same jobs run on local processes or a Ray cluster.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--catalog", type=Path, default=Path("songscope.db"),
                        help="the catalog file (default ./songscope.db; created when absent)")
    add = actions.add_parser("add", parents=[common], help="add audio files and folders")
    add.add_argument("paths", nargs="+", type=Path, help="audio files and/or folders (searched recursively)")
    add.add_argument("-j", "--jobs", type=int, default=1, help="files read in parallel (default 1)")
    add.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    run = actions.add_parser("run", parents=[common], help="compute a task for every track that lacks it")
    run.add_argument("task", choices=("analyze", "key", "separate", "covers-index"), help="what to compute")
    run.add_argument("-m", "--model", default="classic", help="the task's model (default classic)")
    run.add_argument("--key-model", default=None, help="analyze: key model (default classic)")
    run.add_argument("--demix", default=None, metavar="MODEL", help="analyze: separate stems first with MODEL")
    run.add_argument("--meters", type=_meters, default=None, help="analyze: beats per bar to consider")
    run.add_argument("--min-bpm", type=float, default=None, help="analyze: slowest tempo (BPM)")
    run.add_argument("--max-bpm", type=float, default=None, help="analyze: fastest tempo (BPM)")
    run.add_argument("-o", "--out-dir", type=Path, default=None,
                     help="separate: stem folder (default <catalog>.stems next to the catalog)")
    run.add_argument("-d", "--device", default=None, help="cpu, cuda or mps for neural models")
    run.add_argument("-j", "--jobs", type=int, default=None, help="worker processes (default: CPU cores)")
    run.add_argument("--executor", choices=("local", "ray"), default="local",
                     help="local processes (default) or a Ray cluster")
    run.add_argument("--address", default=None, help="the Ray cluster to join (default: start a local one)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    status = actions.add_parser("status", parents=[common], help="what the catalog holds")
    status.add_argument("--json", action="store_true", help="print JSON")
    query = actions.add_parser("query", parents=[common], help='tracks matching a filter, e.g. "bpm between 120 '
                                                                 "and 128 and key = 'A minor'\"")
    query.add_argument("expression", nargs="?", default="", help="the filter (docs: songscope.library.query)")
    query.add_argument("--format", choices=("paths", "jsonl"), default="paths", help="paths (default) or jsonl")
    export = actions.add_parser("export", parents=[common], help="every track with its facts, as csv/jsonl/parquet")
    export.add_argument("--format", choices=("csv", "jsonl", "parquet"), default="jsonl", help="default jsonl")
    export.add_argument("--output-file", type=Path, default=None, help="write here instead of printing "
                                                                         "(required for parquet)")
    p.set_defaults(run=_run_library)


def _run_library(args: argparse.Namespace) -> int:
    from .library.catalog import Catalog

    _check_jobs(getattr(args, "jobs", None))
    with Catalog(args.catalog) as catalog:
        return {"add": _library_add, "run": _library_run, "status": _library_status, "query": _library_query,
                "export": _library_export}[args.action](catalog, args)


def _library_add(catalog, args: argparse.Namespace) -> int:
    from .library.jobs import add_paths

    outcome, failures = add_paths(catalog, args.paths, jobs=args.jobs, progress=_bars_wanted(args))
    if not args.quiet:
        print(", ".join(f"{len(paths)} {kind}" for kind, paths in outcome.items()))
        for path in outcome["duplicate"]:
            print(f"songscope: note: {path} has the same content as a track already in the catalog", file=sys.stderr)
    return _report_failures(failures, sum(map(len, outcome.values())) + len(failures)) if failures else 0


def _library_run(catalog, args: argparse.Namespace) -> int:
    from .library.jobs import LibraryJob, run_job
    from .library.runner import default_jobs

    settings = {"key_model": args.key_model, "demix": args.demix, "meters": args.meters, "min_bpm": args.min_bpm,
                "max_bpm": args.max_bpm} if args.task == "analyze" else {}
    job = LibraryJob(args.task, args.model, settings, args.out_dir or args.catalog.with_suffix(".stems"), args.device)
    recorded, failures = run_job(catalog, job, jobs=args.jobs or default_jobs(), progress=_bars_wanted(args),
                                 executor=args.executor, address=args.address)
    if not args.quiet:
        print(f"songscope: {recorded} new {args.task} results in {args.catalog}", file=sys.stderr)
    return _report_failures(failures, recorded + len(failures)) if failures else 0


def _library_status(catalog, args: argparse.Namespace) -> int:
    import json

    report = catalog.status()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['tracks']} tracks ({report['contents']} distinct contents, {report['duplicates']} duplicates, "
          f"{report['missing']} missing files) in {report['catalog']}")
    for row in report["results"]:
        print(f"  {row['task']:<13} {row['model']:<40} {row['count']}")
    return 0


def _library_query(catalog, args: argparse.Namespace) -> int:
    import json

    from .library.query import compile_query

    where, params = compile_query(args.expression)
    for row in catalog.facts(where, params):
        print(json.dumps(row, ensure_ascii=False) if args.format == "jsonl" else row["path"])
    return 0


def _library_export(catalog, args: argparse.Namespace) -> int:
    from .library.export import export_facts

    export_facts(catalog.facts(), args.format, args.output_file, sys.stdout)
    return 0


def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="browse a catalog in the browser: library page, track viewer, JSON API",
                       description="Serve a catalog (or a folder: its songscope.db, with the folder's audio added) "
                                   "over HTTP: a library page, a track viewer with waveform, beats, sections and "
                                   "playback, uploads analysed in the background, and the JSON API under /api/. "
                                   "Listens on 127.0.0.1 unless --host says otherwise; beyond loopback every "
                                   "request needs the token.")
    p.add_argument("target", nargs="?", type=Path, default=None, metavar="CATALOG_OR_FOLDER",
                   help="a catalog file or a music folder (default ./songscope.db)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0 picks a free one)")
    p.add_argument("--token", default=None,
                   help="require this token from every request (generated and printed when --host is not loopback)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="where uploads are stored (default <catalog name>.serve next to the catalog)")
    p.add_argument("--max-upload", type=float, default=200.0, metavar="MB", help="upload size limit in MiB (default 200)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary of the catalog")
    p.set_defaults(run=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    from .serve import run_server

    return run_server(args.target, host=args.host, port=args.port, token=args.token, data_dir=args.data_dir,
                      max_upload=int(args.max_upload * 1024 * 1024), quiet=args.quiet, progress=_bars_wanted(args))


def _check_jobs(jobs: int | None) -> None:
    if jobs is not None and jobs < 1:
        raise InputError("--jobs must be at least 1")


def _bars_wanted(args: argparse.Namespace) -> bool:
    """Progress bars only for a person at a terminal: never with -q, never into a log file or pipe."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def _report_failures(failures, total: int) -> int:
    """Print failures on stderr; the exit status of the batch."""
    if total == 1 and failures:
        print(f"songscope: error: {failures[0].message}", file=sys.stderr)
        return failures[0].exit_code
    if failures:
        print(f"songscope: {len(failures)} of {total} files failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure.message}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``songscope`` command."""
    parser = argparse.ArgumentParser(
        prog="songscope", description="Beats, downbeats, meter, tempo, key, labelled sections and stems of music "
                                      "recordings, and the models behind them. `songscope COMMAND -h` for help.")
    parser.add_argument("--version", action="version", version=f"songscope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_analyze(sub)
    _add_key(sub)
    _add_separate(sub)
    _add_train(sub)
    _add_export(sub)
    _add_evaluate(sub)
    _add_synth(sub)
    _add_covers(sub)
    _add_models(sub)
    _add_library(sub)
    _add_serve(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    from .library.runner import signals_as_exceptions

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with signals_as_exceptions():
            return int(args.run(args))
    except (Interrupted, KeyboardInterrupt) as exc:
        stopped = exc if isinstance(exc, Interrupted) else Interrupted()
        print(f"songscope: {stopped}", file=sys.stderr)
        return stopped.exit_code
    except SongscopeError as exc:
        if os.environ.get("SONGSCOPE_DEBUG"):
            raise
        print(f"songscope: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # never a traceback for users; SONGSCOPE_DEBUG=1 shows it
        if os.environ.get("SONGSCOPE_DEBUG"):
            raise
        print(f"songscope: internal error: {type(exc).__name__}: {exc} (set SONGSCOPE_DEBUG=1 for details)",
              file=sys.stderr)
        return 70


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
