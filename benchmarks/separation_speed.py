"""Speed and peak memory of ``songscope separate`` per engine on CPU.

Each engine separates a stereo 44.1 kHz FLAC of ``--minutes`` minutes (default 10) in a fresh
process (``songscope separate``, 16-bit wav stems); the script reports the real-time factor
(audio seconds per wall second, start-up included), the CPU seconds it used (user + system:
steadier than the wall clock on a shared machine) and the peak resident memory of that process.
Engines: the classic engine, and random-weight models of every architecture at the sizes named
below (speed and memory do not depend on the weights), with their parameter counts. Prints one
JSON object. Auralflow's networks at their default sizes run below real time on one busy core:
measure them on a shorter file (``--minutes``) and report that length with them.

    python benchmarks/separation_speed.py [--minutes 10] [--threads 2] [--engines classic,unet_simple,...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import song_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

ARCHITECTURES = {
    "bsrnn_paper": ("bsrnn", {"targets": ["vocals"]}),  # one target, fc 128, rnn 256, 12 layers (paper)
    "bsrnn_small4": ("bsrnn", {"targets": ["bass", "drums", "other", "vocals"], "bands": "vocals", "fc_dim": 32,
                               "rnn_dim": 64, "num_layers": 2, "mlp_dim": 64}),  # configs/separation_bsrnn_cpu.toml
    "unet_simple": ("unet", {"bottleneck": "simple"}),
    "unet_lstm": ("unet", {"bottleneck": "lstm"}),
    "unet_vae": ("unet", {"bottleneck": "vae"}),
    # Auralflow's networks at the defaults of its config (mono, n_fft 1024, hop 512, 3 s chunks, 16 channels)
    "auralflow_simple": ("auralflow-simple", {}),
    "auralflow_lstm": ("auralflow-lstm", {}),
    "auralflow_vae": ("auralflow-vae", {}),
    # the sizes trained here for benchmarks/separation_eval.py (stereo, 4 channels, LSTM 3 x 256, 2 s chunks)
    "auralflow_simple_cpu": "separation_auralflow_simple_cpu",
    "auralflow_lstm_cpu": "separation_auralflow_lstm_cpu",
    "auralflow_vae_cpu": "separation_auralflow_vae_cpu",
}


def _architecture(name: str) -> tuple[str, dict]:
    """(family, network settings) of an engine name: written above, or read from a training
    config under ``configs/`` when the entry names one."""
    from songscope.separation.config import SeparationTrainConfig

    entry = ARCHITECTURES[name]
    if isinstance(entry, tuple):
        return entry
    config = SeparationTrainConfig.load(ROOT / "configs" / f"{entry}.toml")
    return config.family, config.model


def _checkpoint(name: str, folder: Path) -> tuple[str, float]:
    """A random-weight checkpoint of engine ``name`` in ``folder``, and its parameters (millions)."""
    from songscope.separation.model import build_model, save_separation_model

    family, config = _architecture(name)
    model = build_model(family, config)
    return str(save_separation_model(model, folder / f"{name}.pt")), sum(p.numel() for p in model.parameters()) / 1e6


def _run(model: str, audio: Path, out: Path, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    code = ("import resource, sys; from songscope.cli import main; rc = main(sys.argv[1:]); "
            "u = resource.getrusage(resource.RUSAGE_SELF); "
            "print(u.ru_utime + u.ru_stime, u.ru_maxrss, file=sys.stderr); sys.exit(rc)")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, "separate", str(audio), "-o", str(out), "-m", model,
                           "-d", "cpu"], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    cpu_s, peak_kb = proc.stderr.strip().splitlines()[-1].split()
    return {"wall_s": round(wall, 1), "cpu_s": round(float(cpu_s), 1), "peak_rss_mb": round(int(peak_kb) / 1024, 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--engines", default="classic," + ",".join(ARCHITECTURES))
    args = parser.parse_args()
    unknown = [name for name in args.engines.split(",") if name != "classic" and name not in ARCHITECTURES]
    if unknown:
        sys.exit(f"error: unknown engine {unknown[0]!r}; known: classic, {', '.join(ARCHITECTURES)}")
    audio = song_file(args.minutes * 60)
    seconds = args.minutes * 60
    report = {"benchmark": "separation_speed", "audio_seconds": seconds, "threads": args.threads, "engines": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in args.engines.split(","):
            model, params = ("classic", None) if name == "classic" else _checkpoint(name, tmp)
            row = {"params_m": None if params is None else round(params, 2), **_run(model, audio, tmp / "out", args.threads)}
            if "wall_s" in row:
                row["realtime_factor"] = round(seconds / row["wall_s"], 2)
                row["cpu_realtime_factor"] = round(seconds / row["cpu_s"], 2)
            report["engines"][name] = row
            print(json.dumps({name: row}), file=sys.stderr)
    report["max_peak_rss_mb"] = max((r.get("peak_rss_mb", 0) for r in report["engines"].values()), default=0)
    print(json.dumps(report))


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
