"""The classic separation engine against nussl's no-weights baselines, on real MUSDB18 music and
on a held-out synthetic set, every engine scored by songscope's own metrics.

    python benchmarks/separation_real_data.py /work/realsep          (once: the real excerpt)
    songscope synth /work/realsep/synth_heldout --works 12 --versions 1 --seed 2027 --test-fraction 0.5
    python benchmarks/separation_real.py [--real /work/realsep/real] [--synth /work/realsep/synth_heldout/test]
        [--synth-seconds 30] [--base-ref de26896] [--nussl-python /tmp/nussl-venv/bin/python]
        [--engines classic,classic_base,hpss,repet,repet_sim]

Engines:
- ``classic``: songscope's classic engine of this checkout (``separate_file``, streaming);
- ``classic_base``: the classic engine of git revision ``--base-ref`` (default: the commit before
  the engine was reworked), run from ``git archive`` of that revision in a subprocess;
- ``hpss``, ``repet``, ``repet_sim``: nussl 1.1.9's ``HPSS``, ``Repet`` and ``RepetSim`` with their
  default (recommended) settings (nussl's default STFT: 2048-sample sqrt-Hann window, hop 512;
  HPSS kernel 31, soft masks; REPET/REPET-SIM high-pass 100 Hz, soft masks), run by
  ``--nussl-python``. nussl needs numpy < 1.24: its interpreter is a throwaway venv outside
  the repository, e.g.::

    python3.11 -m venv /tmp/nussl-venv
    /tmp/nussl-venv/bin/pip install "numpy<1.24" "scipy<1.11" librosa==0.9.2 numba==0.57.1 soundfile jams \\
        museval musdb pyyaml zarr ffmpy ffmpeg-python importlib-resources sox pyloudnorm tqdm termtables \\
        norbert pytorch-ignite gpytorch tensorboard "setuptools>=77,<80" sympy networkx filelock jinja2 fsspec
    /tmp/nussl-venv/bin/pip install --no-deps nussl==1.1.9
    # torch: any CPU build importable by that interpreter (we linked the repo venv's torch 2.13 into it)

Targets (every engine is scored by :func:`songscope.evaluate.metrics.separation_metrics` on the
same pairs, so the silent-frame rule of BSSEval drops the same frames for all):
- ``stems``: bass, drums, other, vocals (the classic engines only);
- ``vs_hpss``: ``drums`` and ``rest`` = bass + other + vocals. HPSS percussive -> drums, harmonic
  -> rest; a classic engine gives its drums and the sum of its other three stems;
- ``vs_repet``: ``vocals`` and ``accompaniment`` = bass + drums + other. REPET / REPET-SIM
  foreground -> vocals, background -> accompaniment; a classic engine gives its vocals and the
  sum of its other three stems.

The outputs of nussl and of ``classic_base`` are kept in ``--out`` and not computed again when
present (they depend on the mixtures and ``--base-ref`` only); ``--fresh`` clears them. Synthetic tracks are cut to ``--synth-seconds`` from
``--synth-offset`` (the same excerpt for every engine; nussl's REPET is quadratic in memory along
time on a whole song).

Prints one JSON object: per set (``real``, ``synthetic``) the per-track scores, per engine and
target group the mean over tracks of SDR (BSSEval v4, median over 1 s frames), SI-SDR and uSDR,
and cSDR (the median over tracks of SDR); ``ahead``: classic minus each baseline on their
shared targets; and the classic engines' real-time factor (wall clock, one process).

Measured (2 Dec 2026, defaults, one real 6 s excerpt, 6 synthetic 30 s excerpts of seed 2027;
SDR mean over tracks, dB): real: classic before -> after: bass -0.11 -> 1.52, drums 1.24 -> 3.32,
other 2.16 -> 2.46, vocals -0.74 -> 1.75; vs HPSS drums 3.32 / 2.65, rest 7.00 / 6.30; vs REPET
and REPET-SIM vocals 1.75 / 0.85 / 1.28, accompaniment 8.38 / 7.98 / 7.45. Synthetic: bass
2.41 -> 3.08, drums 3.42 -> 4.47, other 3.35 -> 3.18 (worse), vocals 1.92 -> 2.83; ahead of
every baseline on its targets. The settings were chosen on 3 other synthetic tracks (the
``train`` half of the same corpus, 20 s each) with the real excerpt looked at as well.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import CACHE  # noqa: E402

from songscope.conventions import STEMS  # noqa: E402
from songscope.evaluate.metrics import separation_metrics  # noqa: E402
from songscope.separation.api import SeparateOptions, load_separator, separate_file  # noqa: E402
from songscope.separation.data import find_tracks  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BASE_REF = "de26896"  # main before the classic engine was reworked (issue 13 item 5)
BASELINES = {"hpss": "vs_hpss", "repet": "vs_repet", "repet_sim": "vs_repet"}
CLASSICS = ("classic", "classic_base")
NUSSL_FILES = {"hpss": ("rest", "drums"), "repet": ("accompaniment", "vocals"),
               "repet_sim": ("accompaniment", "vocals")}  # nussl's output order per method

# argv: pairs of (mixture wav, output folder); writes <folder>/<method>/<target>.wav
NUSSL_HELPER = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from pathlib import Path
import nussl
from nussl.separation.primitive import HPSS, Repet, RepetSim
names = json.loads(sys.argv[1])
methods = {"hpss": HPSS, "repet": Repet, "repet_sim": RepetSim}
for mixture, folder in zip(sys.argv[2::2], sys.argv[3::2]):
    signal = nussl.AudioSignal(mixture)
    for method, cls in methods.items():
        out = Path(folder) / method
        out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        estimates = cls(signal)()
        for name, estimate in zip(names[method], estimates):
            estimate.write_audio_to_file(str(out / (name + ".wav")))
        print(json.dumps({"mixture": mixture, "method": method, "seconds": time.perf_counter() - start}), flush=True)
print(json.dumps({"nussl": nussl.__version__}), flush=True)
"""

# argv: pairs of (mixture wav, output folder); the classic engine of the songscope on PYTHONPATH
CLASSIC_HELPER = """
import json, sys, time
from songscope.separation.api import SeparateOptions, load_separator, separate_file
separator = load_separator("classic", "cpu")
for mixture, folder in zip(sys.argv[1::2], sys.argv[2::2]):
    start = time.perf_counter()
    separate_file(mixture, folder, separator, SeparateOptions(format="wav32"))
    print(json.dumps({"mixture": mixture, "seconds": time.perf_counter() - start}), flush=True)
"""


def real_tracks(root: Path) -> list[dict]:
    """The MUSDB tracks under ``root`` (``separation_real_data.py``): name, mixture path, stem paths."""
    out = []
    for track in find_tracks(root):
        folder = track.files[STEMS[0]].parent
        out.append({"name": track.name, "mixture": folder / "mixture.wav", "stems": dict(track.files)})
    return out


def synthetic_tracks(root: Path, count: int, seconds: float, offset: float, out: Path) -> list[dict]:
    """The first ``count`` tracks under ``root``, cut to ``seconds`` from ``offset`` (or from the
    start when shorter) into ``out`` as float wav."""
    rows = []
    for track in find_tracks(root)[:count]:
        folder = out / track.name
        folder.mkdir(parents=True, exist_ok=True)
        length = int(seconds * track.sample_rate)
        start = max(0, min(int(offset * track.sample_rate), track.frames - length))
        paths = {**track.files, "mixture": track.files[STEMS[0]].parent / "mixture.wav"}
        for name, path in paths.items():
            audio, rate = sf.read(str(path), start=start, frames=length, dtype="float32", always_2d=True)
            sf.write(str(folder / f"{name}.wav"), audio, rate, subtype="FLOAT")
        rows.append({"name": track.name, "mixture": folder / "mixture.wav",
                     "stems": {s: folder / f"{s}.wav" for s in STEMS}})
    return rows


def _pairs(tracks: list[dict], out: Path) -> list[str]:
    return [str(x) for t in tracks for x in (t["mixture"], out / t["name"])]


def run_classic(tracks: list[dict], out: Path) -> float:
    """This checkout's classic engine on every mixture into ``out/<track>``; returns the real-time
    factor (audio seconds / wall seconds, decoding and writing included)."""
    separator = load_separator("classic", "cpu")
    audio = wall = 0.0
    for track in tracks:
        start = time.perf_counter()
        separate_file(track["mixture"], out / track["name"], separator, SeparateOptions(format="wav32"))
        wall += time.perf_counter() - start
        audio += sf.info(str(track["mixture"])).duration
    return round(audio / wall, 2)


def run_classic_base(tracks: list[dict], out: Path, ref: str) -> float | None:
    """The classic engine of git revision ``ref`` (from ``git archive``) in a subprocess, on the
    tracks without all stems from an earlier run; returns its real-time factor (None when none ran)."""
    tracks = [t for t in tracks if not all((out / t["name"] / f"{s}.wav").exists() for s in STEMS)]
    if not tracks:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "src.tar"
        subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(archive), ref, "src"], check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        env = {**os.environ, "PYTHONPATH": str(Path(tmp) / "src")}
        proc = subprocess.run([sys.executable, "-c", CLASSIC_HELPER, *_pairs(tracks, out)], env=env,
                              capture_output=True, text=True, check=True)
    wall = sum(json.loads(line)["seconds"] for line in proc.stdout.splitlines())
    return round(sum(sf.info(str(t["mixture"])).duration for t in tracks) / wall, 2)


def run_nussl(tracks: list[dict], out: Path, python: str) -> str:
    """nussl's three baselines on every mixture into ``out/<track>/<method>`` (tracks with all
    files from an earlier run are not run again); returns nussl's version ("cached" when none ran)."""
    tracks = [t for t in tracks if not all((out / t["name"] / m / f"{n}.wav").exists()
                                           for m, names in NUSSL_FILES.items() for n in names)]
    if not tracks:
        return "cached"
    proc = subprocess.run([python, "-c", NUSSL_HELPER, json.dumps(NUSSL_FILES), *_pairs(tracks, out)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"error: nussl failed: {proc.stderr.strip().splitlines()[-1]}")
    return json.loads(proc.stdout.splitlines()[-1])["nussl"]


def _read(path: Path) -> np.ndarray:
    return sf.read(str(path), dtype="float32", always_2d=True)[0]


def groups_of_stems(stems: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """The target groups of a four-stem set (references or a classic engine's estimates)."""
    rest = stems["bass"] + stems["other"] + stems["vocals"]
    accompaniment = stems["bass"] + stems["drums"] + stems["other"]
    return {"stems": stems, "vs_hpss": {"drums": stems["drums"], "rest": rest},
            "vs_repet": {"vocals": stems["vocals"], "accompaniment": accompaniment}}


def score_track(track: dict, estimates: dict[str, Path], sample_rate: int = 44100) -> dict[str, dict]:
    """engine -> target group -> metric -> dB for one track (``estimates``: engine -> folder)."""
    references = groups_of_stems({s: _read(track["stems"][s]) for s in STEMS})
    out = {}
    for engine, folder in estimates.items():
        if engine in CLASSICS:
            groups = groups_of_stems({s: _read(folder / f"{s}.wav") for s in STEMS})
        else:
            group = BASELINES[engine]
            groups = {group: {name: _read(folder / engine / f"{name}.wav") for name in NUSSL_FILES[engine]}}
        out[engine] = {g: {k: round(v, 3) for k, v in separation_metrics(references[g], est, sample_rate).items()}
                       for g, est in groups.items()}
    return out


def summarise(per_track: dict[str, dict]) -> dict[str, dict]:
    """engine -> group -> mean over tracks of every metric, plus ``cSDR_<target>`` (median of SDR)."""
    out: dict[str, dict] = {}
    for scores in per_track.values():
        for engine, groups in scores.items():
            for group, metrics in groups.items():
                for key, value in metrics.items():
                    out.setdefault(engine, {}).setdefault(group, {}).setdefault(key, []).append(value)
    summary = {}
    for engine, groups in out.items():
        summary[engine] = {}
        for group, metrics in groups.items():
            row = {k: round(float(np.nanmean(v)), 2) for k, v in metrics.items()}
            row.update({"c" + k: round(float(np.nanmedian(v)), 2) for k, v in metrics.items() if k.startswith("SDR_")})
            summary[engine][group] = row
    return summary


def ahead(summary: dict[str, dict], engine: str = "classic") -> dict[str, dict]:
    """``engine`` minus each baseline on the baseline's targets (dB; positive = ahead)."""
    out = {}
    for baseline, group in BASELINES.items():
        if baseline in summary and engine in summary:
            ours, theirs = summary[engine][group], summary[baseline][group]
            out[baseline] = {k: round(ours[k] - theirs[k], 2) for k in theirs}
    return out


def evaluate_set(name: str, tracks: list[dict], engines: list[str], out: Path, args) -> dict:
    """Run every engine on ``tracks`` (into ``out/<engine>/<set>``) and score them."""
    report: dict = {"tracks": [t["name"] for t in tracks], "realtime_factor": {}}
    folders = {e: out / e / name for e in engines}
    folders["classic_base"] = out / f"classic_base-{args.base_ref}" / name
    if "classic" in engines:
        report["realtime_factor"]["classic"] = run_classic(tracks, folders["classic"])
    if "classic_base" in engines:
        report["realtime_factor"]["classic_base"] = run_classic_base(tracks, folders["classic_base"], args.base_ref)
    nussl = [e for e in engines if e in BASELINES]
    if nussl:
        report["nussl"] = run_nussl(tracks, out / "nussl" / name, args.nussl_python)
        folders.update({e: out / "nussl" / name for e in nussl})
    per_track = {t["name"]: score_track(t, {e: folders[e] / t["name"] for e in engines}) for t in tracks}
    report["per_track"] = per_track
    report["mean"] = summarise(per_track)
    report["ahead"] = ahead(report["mean"])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=Path("/work/realsep/real"))
    parser.add_argument("--synth", type=Path, default=Path("/work/realsep/synth_heldout/test"))
    parser.add_argument("--synth-tracks", type=int, default=6)
    parser.add_argument("--synth-seconds", type=float, default=30.0)
    parser.add_argument("--synth-offset", type=float, default=20.0)
    parser.add_argument("--base-ref", default=BASE_REF)
    parser.add_argument("--nussl-python", default="/tmp/nussl-venv/bin/python")
    parser.add_argument("--engines", default="classic,classic_base,hpss,repet,repet_sim")
    parser.add_argument("--sets", default="real,synthetic")
    parser.add_argument("--out", type=Path, default=CACHE / "separation_real")
    parser.add_argument("--fresh", action="store_true", help="run nussl and classic_base again")
    args = parser.parse_args()
    if args.fresh:
        for folder in (args.out / "nussl", args.out / f"classic_base-{args.base_ref}"):
            shutil.rmtree(folder, ignore_errors=True)
    engines = args.engines.split(",")
    unknown = set(engines) - set(CLASSICS) - set(BASELINES)
    if unknown:
        raise SystemExit(f"error: unknown engines: {', '.join(sorted(unknown))}")
    if any(e in BASELINES for e in engines) and not Path(args.nussl_python).exists():
        raise SystemExit(f"error: no nussl interpreter at {args.nussl_python} (see --help)")
    report = {"benchmark": "separation_real", "engines": engines, "sets": {}}
    for name in args.sets.split(","):
        if name == "real":
            tracks = real_tracks(args.real)
        else:
            tracks = synthetic_tracks(args.synth, args.synth_tracks, args.synth_seconds, args.synth_offset,
                                      args.out / "inputs" / name)
        report["sets"][name] = evaluate_set(name, tracks, engines, args.out, args)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
