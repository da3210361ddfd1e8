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

from .errors import InputError, SongscopeError
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
    p.add_argument("-m", "--model", default="classic", help="engine (default: classic, needs no weights)")
    p.add_argument("-d", "--device", default=None, help="cpu, cuda or mps (the classic engine uses the CPU)")
    p.add_argument("-k", "--keep-byproducts", action="store_true", help="keep frame features in --spec-dir")
    p.add_argument("--demix-dir", type=Path, default=Path("./demix"), help="stem folder (unused by the classic engine)")
    p.add_argument("--spec-dir", type=Path, default=Path("./spec"), help="feature folder for -k (default ./spec)")
    p.add_argument("--overwrite", action="store_true", help="recompute existing results (the default; allin1 flag)")
    p.add_argument("--skip-existing", action="store_true", help="reuse <name>.json already in the output folder")
    p.add_argument("--no-multiprocess", action="store_true", help="analyze files one after another")
    p.add_argument("-j", "--jobs", type=int, default=None, help="worker processes (default: CPU cores)")
    p.add_argument("--meters", type=_meters, default=(3, 4), help="beats per bar to consider, e.g. 2,3,4 (default 3,4)")
    p.add_argument("--min-bpm", type=float, default=55.0, help="slowest tempo (default 55)")
    p.add_argument("--max-bpm", type=float, default=215.0, help="fastest tempo (default 215)")
    p.add_argument("--jams", action="store_true", help="also write <name>.jams")
    p.add_argument("--audacity", action="store_true", help="also write <name>.labels.txt (Audacity label track)")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-file summary or progress bar")
    p.set_defaults(run=_run_analyze)


def _summary(result) -> str:
    labels = " ".join(s.label for s in result.segments)
    return (f"{result.path}: {result.bpm} BPM, {result.time_signature}, {result.key}, "
            f"{len(result.beats)} beats, sections: {labels}")


def _run_analyze(args: argparse.Namespace) -> int:
    from .pipeline import AnalyzeOptions, check_model, run_analysis
    from .library.inputs import expand_inputs
    from .library.runner import default_jobs

    check_model(args.model, args.device)
    if args.jobs is not None and args.jobs < 1:
        raise InputError("--jobs must be at least 1")
    files = expand_inputs(args.paths)
    if args.embed:
        print(f"songscope: note: engine {args.model!r} has no embeddings; -e writes nothing", file=sys.stderr)
    options = AnalyzeOptions(
        model=args.model, meters=args.meters, min_bpm=args.min_bpm, max_bpm=args.max_bpm,
        include_activations=args.activ, include_embeddings=args.embed, out_dir=args.out_dir,
        viz_dir=args.viz_dir if args.visualize else None, viz_format=args.viz_format,
        sonif_dir=args.sonif_dir if args.sonify else None,
        spec_dir=args.spec_dir if args.keep_byproducts else None,
        jams=args.jams, audacity=args.audacity, skip_existing=args.skip_existing,
    )
    options.dbn()
    jobs = 1 if args.no_multiprocess else (args.jobs or default_jobs())
    progress = len(files) > 1 and not args.quiet
    results, failures = run_analysis(files, options, jobs=jobs, progress=progress)
    if not args.quiet:
        for result in results:
            print(_summary(result))
    if len(files) == 1 and failures:
        print(f"songscope: error: {failures[0].message}", file=sys.stderr)
        return failures[0].exit_code
    if failures:
        print(f"songscope: {len(failures)} of {len(files)} files failed:", file=sys.stderr)
        for failure in failures:
            print(f"  {failure.message}", file=sys.stderr)
        return 1
    if not args.quiet and len(files) > 1:
        print(f"songscope: analyzed {len(results)} files -> {args.out_dir}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``songscope`` command."""
    parser = argparse.ArgumentParser(prog="songscope", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"songscope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_analyze(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except SongscopeError as exc:
        if os.environ.get("SONGSCOPE_DEBUG"):
            raise
        print(f"songscope: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("songscope: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # never a traceback for users; SONGSCOPE_DEBUG=1 shows it
        if os.environ.get("SONGSCOPE_DEBUG"):
            raise
        print(f"songscope: internal error: {type(exc).__name__}: {exc} (set SONGSCOPE_DEBUG=1 for details)",
              file=sys.stderr)
        return 70


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
