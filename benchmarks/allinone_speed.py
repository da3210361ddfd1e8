"""Speed and memory of the All-In-One network on CPU, and its ONNX export.

    python benchmarks/allinone_speed.py [--parts three,sixty,demix_before,demix_after,onnx] [--onnx-depth 3]
        [--demix-minutes 60] [--demix-depth 11] [--demix-separator classic|split]

On one core (one torch thread), with allin1's architecture (depth 11, double attention; random
weights: speed does not depend on them):

- ``three_minutes``: ``engine.predict`` on a 3-minute song's four stems (demixing excluded):
  front end, network, beat decoding and sections; wall and CPU seconds and x real time (on a
  shared machine the CPU figure is the one that does not depend on the other processes);
- ``sixty_minutes``: the network over a 60-minute spectrogram in chunks
  (:func:`~songscope.structure.allinone.family.network_outputs`: 30 000-frame chunks overlapping
  by 6 000), in its own process: seconds, x real time and peak RSS, next to the RSS of the
  process before the network ran (Python, torch and the (4, T, 81) spectrogram itself);
- ``chunking_error``: the largest difference of the activations between one pass and chunks of
  12 000 frames overlapping by 4 000 on the 3-minute song;
- ``demix_before`` / ``demix_after``: ``analyze --demix`` (the pipeline's
  :func:`~songscope.pipeline.analyze_audio`) of a ``--demix-minutes`` long stereo mixture (default
  60) through a network of depth ``--demix-depth``, each in its own process: peak RSS and the RSS
  before the analysis (Python, torch, the decoded mixture). ``before`` collects the whole stems
  first (what analyze did: a structure engine without ``stem_sink``), ``after`` streams each
  separated chunk into spectrogram frames. ``--demix-separator classic`` runs songscope's classic
  separator (about 30 CPU s per audio minute); ``split`` stands in for it with a separator that
  returns a quarter of the mixture as each stem (no separation cost, same streaming and same
  memory path: a 60-minute run in minutes);
- ``onnx``: ``songscope export`` of a model of depth ``--onnx-depth`` (export time grows with
  the depth; the graph is the same for every depth) and the largest difference between
  onnxruntime and torch on a random spectrogram of the exported length (skipped without onnxruntime).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LONG_FORM, pin_one_core  # noqa: E402

from songscope.conventions import STEMS  # noqa: E402
from songscope.synth import make_song, render_song  # noqa: E402

SR = 44100


def _model(depth: int = 11):
    import torch

    from songscope.structure.allinone.config import AllInOneConfig
    from songscope.structure.allinone.model import AllInOne

    torch.manual_seed(0)
    return AllInOne(AllInOneConfig(depth=depth)).eval()


def _stems(seconds: float) -> dict[str, np.ndarray]:
    song = make_song(seed=42, tempo=112.0, beats_per_bar=4, tonic=7, form=LONG_FORM)
    audio = render_song(song, SR, seed=42)
    total = int(seconds * SR)
    return {s: np.resize(audio[s], total)[None] for s in STEMS}


def _engine(model):
    from dataclasses import replace

    from songscope.structure.allinone.family import ALLIN1_DBN, AllInOneEngine

    return AllInOneEngine("benchmark", [model], "cpu", replace(ALLIN1_DBN))


def three_minutes() -> dict:
    import torch

    from songscope.audio.signal import Audio
    from songscope.result import Stems
    from songscope.structure.allinone.family import activations_from_logits, network_outputs, stem_spectrograms

    stems = _stems(180.0)
    audio = Audio.from_array(stems["bass"], SR).with_stems(Stems(stems, SR, "reference"))
    model = _model()
    engine = _engine(model)
    started, cpu = time.perf_counter(), time.process_time()
    result = engine.predict(audio)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    with torch.inference_mode():
        spec = stem_spectrograms(audio, model.cfg, "cpu")[0].numpy()
        whole = network_outputs(model, spec)
        chunked = network_outputs(model, spec, long_frames=0, chunk_frames=12000, overlap=4000)
    whole_act = activations_from_logits(*[torch.from_numpy(x) for x in whole[:4]])
    chunked_act = activations_from_logits(*[torch.from_numpy(x) for x in chunked[:4]])
    errors = {k: float(np.abs(whole_act[k] - chunked_act[k]).max()) for k in whole_act}
    return {"three_minutes": {"seconds": round(seconds, 2), "x_real_time": round(180.0 / seconds, 2),
                              "cpu_seconds": round(cpu, 2), "x_real_time_cpu": round(180.0 / cpu, 2),
                              "beats": len(result.beats.beats), "sections": len(result.segments)},
            "chunking_error": {"chunk_frames": 12000, "overlap": 4000, "max_abs_activation_diff": errors}}


def sixty_minutes() -> dict:
    import torch

    from songscope.structure.allinone.family import network_outputs
    from songscope.structure.allinone.frontend import log_spectrogram

    model = _model()
    stems = _stems(180.0)
    with torch.inference_mode():
        short = log_spectrogram(torch.from_numpy(np.concatenate([stems[s] for s in STEMS])), model.cfg).numpy()
    spec = np.concatenate([short] * 20, axis=1)  # 60 minutes: (4, 360000, 81)
    del stems, short
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, cpu = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        outputs = network_outputs(model, spec)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"sixty_minutes": {"frames": spec.shape[1], "seconds": round(seconds, 1),
                              "x_real_time": round(3600.0 / seconds, 2), "cpu_seconds": round(cpu, 1),
                              "rss_before_network_mb": round(before, 1),
                              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                              "embeddings_shape": list(outputs[4].shape)}}


class _WithoutSink:
    """The engine as analyze saw it before streaming: no ``stem_sink``, so the stems are collected."""

    def __init__(self, engine):
        self.engine = engine
        self.name, self.family, self.task = engine.name, engine.family, engine.task
        self.views, self.uses_stems = engine.views, engine.uses_stems

    def predict(self, audio):
        return self.engine.predict(audio)


def _separator(name: str):
    from songscope.separation.api import load_separator
    from songscope.separation.engine import Separator

    if name == "classic":
        return load_separator("classic")
    return Separator("split", "benchmark", STEMS, SR, None, 24 * SR,
                     lambda chunk: np.stack([0.25 * chunk] * len(STEMS)))


def demix(streamed: bool, minutes: float, depth: int, separator_name: str) -> dict:
    import torch

    from songscope.audio.signal import Audio
    from songscope.pipeline import Engines, analyze_audio

    song = make_song(seed=42, tempo=112.0, beats_per_bar=4, tonic=7, form=LONG_FORM)
    mono = render_song(song, SR, seed=42)["mixture"]
    mixture = np.resize(np.stack([mono, 0.9 * mono]), (2, int(minutes * 60 * SR)))
    separator = _separator(separator_name)
    audio = Audio.from_array(mixture, SR)
    del mono, mixture
    engine = _engine(_model(depth))
    for view in (*engine.views, *separator.views):
        audio.get(view.sample_rate, view.channels)  # what decoding prepares before the analysis
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, cpu = time.perf_counter(), time.process_time()
    with torch.inference_mode():
        _, structure = analyze_audio(audio, Engines(engine if streamed else _WithoutSink(engine), None, separator))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {f"demix_{'after' if streamed else 'before'}": {
        "minutes": minutes, "separator": separator_name, "depth": depth, "streamed": streamed,
        "seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1), "rss_before_analysis_mb": round(before, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "frames": int(structure.activations["beat"].shape[0])}}


def onnx(depth: int) -> dict:
    try:
        import onnxruntime as ort
    except ImportError:
        return {"onnx": {"skipped": "onnxruntime not installed (pip install 'songscope[onnx]')"}}
    import torch

    from songscope.models.container import Checkpoint, save_checkpoint

    model = _model(depth)
    frames = 6000
    with tempfile.TemporaryDirectory() as tmp:
        path = save_checkpoint(Checkpoint("allinone", model.cfg.to_dict(), model.state_dict()), Path(tmp) / "m.pt")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sys; from songscope.cli import main; sys.exit(main())",
                        "export", str(path), "-o", str(Path(tmp) / "m.onnx"), "--frames", str(frames)],
                       check=True, capture_output=True)
        export_seconds = time.perf_counter() - started
        spec = np.random.default_rng(0).standard_normal((1, 4, frames, 81)).astype(np.float32)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        session = ort.InferenceSession(str(Path(tmp) / "m.onnx"), options, providers=["CPUExecutionProvider"])
        started = time.perf_counter()
        outputs = session.run(None, {"spectrogram": spec})
        ort_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with torch.inference_mode():
        reference = model(torch.from_numpy(spec))
    torch_seconds = time.perf_counter() - started
    names = ("beat", "downbeat", "section", "function", "embeddings")
    return {"onnx": {"depth": depth, "frames": frames, "export_seconds": round(export_seconds, 1),
                     "onnxruntime_seconds": round(ort_seconds, 2), "torch_seconds": round(torch_seconds, 2),
                     "max_abs_diff": {n: float(np.abs(o - getattr(reference, n).numpy()).max())
                                      for n, o in zip(names, outputs)}}}


PARTS = ("three", "sixty", "demix_before", "demix_after", "onnx")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=PARTS, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"parts to run (default all: {','.join(PARTS)})")
    parser.add_argument("--onnx-depth", type=int, default=3)
    parser.add_argument("--demix-minutes", type=float, default=60.0)
    parser.add_argument("--demix-depth", type=int, default=11)
    parser.add_argument("--demix-separator", choices=("classic", "split"), default="classic")
    args = parser.parse_args()
    pin_one_core()
    import torch

    torch.set_num_threads(1)
    if args.part is not None:
        demixed = (args.demix_minutes, args.demix_depth, args.demix_separator)
        part = {"three": three_minutes, "sixty": sixty_minutes, "onnx": lambda: onnx(args.onnx_depth),
                "demix_before": lambda: demix(False, *demixed), "demix_after": lambda: demix(True, *demixed)}[args.part]
        print(json.dumps(part()))
        return
    report = {"threads": 1, "model": "allin1 architecture (depth 11, double attention), random weights"}
    for part in args.parts.split(","):
        run = subprocess.run([sys.executable, __file__, "--part", part, "--onnx-depth", str(args.onnx_depth),
                              "--demix-minutes", str(args.demix_minutes), "--demix-depth", str(args.demix_depth),
                              "--demix-separator", args.demix_separator],
                             capture_output=True, text=True, check=True)
        report.update(json.loads(run.stdout.strip().splitlines()[-1]))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
