"""A CPU training run of the All-In-One network and what it reaches, next to the classic engine.

    python benchmarks/allinone_train.py --corpus DIR [--config configs/structure_cpu.toml]
                                        [--out-dir RUN] [--model RUN/model.pt]

``DIR`` is a ``songscope synth`` corpus (for instance ``songscope synth DIR --works 20 --versions 1
--soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2,/usr/share/sounds/sf2/TimGM6mb.sf2``). Without
``--model`` the script first trains on its ``train`` split (``songscope train structure``'s code,
timed: wall and CPU seconds), then scores the model and the classic engine on:

- ``synthetic``: the corpus's held-out ``test`` split (works never trained on): beat F,
  downbeat F, HR.5F, HR3F, label accuracy; the network reads the stems it was trained on: the
  corpus's own for a model trained with ``demix = "reference"``, else the separator's, streamed
  into spectrograms exactly as ``analyze --demix`` runs it;
- ``real``: the annotated excerpts of ``../shared/data/beats`` (skipped when absent), the
  network reading stems of songscope's classic separator (as ``analyze -m`` runs it): beat F and
  downbeat F (those files have no sections).

``--cache DIR`` keeps each evaluated track's streamed spectrograms (``<track>.<key>.npy``) so a
second scoring run does not separate again.

Prints one JSON object (per set and system: per-track rows and means; the run's settings).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED, mean  # noqa: E402

from songscope.atomic import atomic_path  # noqa: E402
from songscope.audio.signal import decode  # noqa: E402
from songscope.conventions import STEMS  # noqa: E402
from songscope.evaluate.annotations import read_annotations  # noqa: E402
from songscope.evaluate.metrics import beat_metrics, structure_metrics  # noqa: E402
from songscope.models import load_engine  # noqa: E402
from songscope.result import Stems  # noqa: E402


def _train(config: Path, corpus: Path, out_dir: Path) -> dict:
    from songscope.train.run import train_model

    wall, cpu = time.perf_counter(), time.process_time()
    result, model = train_model("structure", config, data=corpus, out_dir=out_dir)
    return {"model": str(model), "steps": result.step, "best_step": result.best_step,
            "best_val_loss": round(result.best_loss, 4), "wall_seconds": round(time.perf_counter() - wall, 1),
            "cpu_seconds": round(time.process_time() - cpu, 1)}


def _scores(result, reference, sections: bool) -> dict:
    row = beat_metrics(reference.beats, result.beats.beats, reference.downbeats, result.beats.downbeats)
    out = {"beat_F": row["F"], "downbeat_F": row.get("downbeat_F")}
    if sections and reference.intervals is not None and result.segments:
        estimate = np.array([[s.start, s.end] for s in result.segments])
        found = structure_metrics(reference.intervals, reference.labels, estimate, [s.label for s in result.segments])
        out.update({k: found[k] for k in ("HR.5F", "HR3F", "label_accuracy")})
    return {k: (round(float(v), 4) if v is not None else None) for k, v in out.items()}


def _demixed(path: Path, audio, neural, separator: str, cache: Path | None, name: str) -> Stems:
    """The stems ``analyze --demix SEPARATOR`` hands the network: spectrograms streamed out of the
    separator (cached in ``cache`` when given)."""
    from songscope.separation.api import load_separator, separate_into
    from songscope.structure.allinone.stream import feature_key

    engine = load_separator(separator)
    key = feature_key(neural.cfg)
    target = cache / f"{name}.{separator}.{hashlib.sha1(f'{path.resolve()}|{key}'.encode()).hexdigest()[:12]}.npy" \
        if cache is not None else None
    if target is not None and target.exists():
        return Stems({}, engine.sample_rate, separator, {key: np.load(target)})
    mixture = audio.get(engine.sample_rate, engine.channels)
    stems = separate_into(mixture, engine, neural.stem_sink(engine.sample_rate, engine.name), name=name)
    if target is not None:
        cache.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            np.save(tmp, stems.features[key])
    return stems


def _views(neural, classic, separator: str) -> list:
    from songscope.separation.api import load_separator

    return [*neural.views, *classic.views, *load_separator(separator).views]


def _synthetic(corpus: Path, neural, classic, demix: str, cache: Path | None) -> dict:
    with open(corpus / "manifest.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["split"] == "test"]
    separator = "classic" if demix == "reference" else demix
    out = {"allinone": {}, "classic": {}}
    for row in rows:
        mixture = corpus / row["mixture"]
        reference = next(iter(read_annotations(corpus / row["annotation"]).values()))
        audio = decode(mixture, _views(neural, classic, separator))
        if demix == "reference":
            parts = {s: sf.read(mixture.parent / f"{s}.wav", dtype="float32", always_2d=True) for s in STEMS}
            stems = Stems({s: data.T for s, (data, _) in parts.items()}, parts["bass"][1], "reference")
        else:
            stems = _demixed(mixture, audio, neural, separator, cache, row["track"])
        out["allinone"][row["track"]] = _scores(neural.predict(audio.with_stems(stems)), reference, True)
        out["classic"][row["track"]] = _scores(classic.predict(audio), reference, True)
    return out


def _real(neural, classic, cache: Path | None) -> dict | None:
    folder = SHARED / "data" / "beats"
    if not folder.is_dir():
        return None
    out = {"allinone": {}, "classic": {}}
    for beats in sorted(folder.glob("*.beats")):
        wav = beats.with_suffix(".wav")
        if not wav.exists():
            continue
        reference = read_annotations(beats)[beats.stem]
        audio = decode(wav, _views(neural, classic, "classic"))
        stems = _demixed(wav, audio, neural, "classic", cache, beats.stem)
        out["allinone"][beats.stem] = _scores(neural.predict(audio.with_stems(stems)), reference, False)
        out["classic"][beats.stem] = _scores(classic.predict(audio), reference, False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=Path(__file__).resolve().parents[1] / "configs"
                        / "structure_cpu.toml")
    parser.add_argument("--out-dir", type=Path, default=Path("runs/allinone_cpu"))
    parser.add_argument("--model", type=Path, default=None, help="score this model instead of training one")
    parser.add_argument("--cache", type=Path, default=None, help="keep the evaluated tracks' streamed spectrograms here")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    report = {"corpus": str(args.corpus)}
    if args.model is None:
        report["training"] = _train(args.config, args.corpus, args.out_dir)
        args.model = Path(report["training"]["model"])
    from songscope.models.converters import read_checkpoint

    settings = read_checkpoint(args.model).metadata.get("train_config", {})
    report["settings"] = {k: settings.get(k) for k in ("model", "demix", "fold", "num_folds", "segment_seconds",
                                                       "batch_size", "augment", "training_tracks",
                                                       "validation_tracks")}
    with open(args.corpus / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    report["soundfonts"] = sorted({r.get("soundfont", "") for r in rows})
    neural = load_engine("structure", str(args.model), "cpu")
    classic = load_engine("structure", "classic")
    started = time.perf_counter()
    demix = settings.get("demix", "reference")
    sets = {"synthetic": _synthetic(args.corpus, neural, classic, demix, args.cache),
            "real": _real(neural, classic, args.cache)}
    for name, found in sets.items():
        if found is None:
            report[name] = {"skipped": f"{SHARED / 'data' / 'beats'} absent"}
            continue
        report[name] = {system: {"mean": mean(list(rows.values())), "tracks": rows} for system, rows in found.items()}
    report["evaluation_seconds"] = round(time.perf_counter() - started, 1)
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
