"""Hyper-parameter tuning as CoverHunterMPS's ``tools/train_tune.py`` does it.

The tuning file is their ``hp_tuning.yaml``: ``test_name`` (the test set whose mAP is reported),
``seeds``, ``max_epochs`` (default 15), ``early_stopping_patience`` (also the window of the
slopes), ``hp_overrides`` (hparams keys laid over the config for every experiment; null values
skipped), ``foundation_checkpoint`` (a model every run starts from, or null), ``early_stop_metric``
(``val_loss``), and lists of values to try, one list at a time against the config's other values:
``chunk_frames`` (each with every ``mean_sizes`` entry), ``m_per_classes``, ``num_blockss``,
``spec_augmentations``, ``losses`` (``foc`` / ``triplet`` / ``center`` sections),
``learning_rates``, ``lr_decays``, ``adam_betas`` (pairs) and ``optimizers`` (default
``[adamw]``). An empty list (``[]`` or ``{}``) tries nothing.

Every experiment trains once per seed from scratch in ``<out_dir>/tune/<experiment>_seed_<seed>/``
(``metrics.csv``, TensorBoard; checkpoints are deleted when the run ends, as theirs keeps none).
A finished run leaves ``result.json`` and is not trained again, so an interrupted search resumes
where it stopped. Per run (:func:`run_metrics`): the final validation loss and its slope over the
last ``early_stopping_patience`` epochs, the best loss and its epoch, the final mAP on
``test_name``, its slope, the best mAP and its epoch, and the final mAP of every other test set
(``bmap_<name>``). Per experiment (:func:`summarize`): the mean and standard deviation over the
seeds that did not diverge. The summary is printed their way and saved as
``<out_dir>/tune/summary.txt`` and ``summary.json``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..atomic import write_text
from ..errors import ConfigError, InputError, TrainingDiverged
from .train_config import CoverHunterTrainConfig, steps_per_epoch

__all__ = ["Experiment", "experiments", "format_summary", "read_tuning", "run_metrics", "slope", "summarize",
           "tune_coverhunter"]

_AXES = ("chunk_frames", "mean_sizes", "m_per_classes", "num_blockss", "spec_augmentations", "losses",
         "learning_rates", "lr_decays", "adam_betas", "optimizers")
_KNOWN = set(_AXES) | {"test_name", "seeds", "max_epochs", "early_stopping_patience", "hp_overrides",
                       "foundation_checkpoint", "early_stop_metric", "map_stopping_testsets", "map_smoothing_alpha"}
_DEFAULT_EPOCHS = 15


@dataclass(frozen=True)
class Experiment:
    """One setting to try: its name (theirs, e.g. ``lrate0.002``) and the hparams it changes."""

    name: str
    changes: dict[str, Any]


def _values(plan: Mapping[str, Any], key: str) -> list:
    """A list of values to try (``{}`` and null mean none)."""
    value = plan.get(key)
    if not value:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"tuning: {key} must be a list of values to try")
    return value


def experiments(plan: Mapping[str, Any], hparams: Mapping[str, Any]) -> list[Experiment]:
    """The experiments a tuning file lists, in their order and with their names.

    Args:
        plan: the tuning file's mapping. hparams: the config's hparams (for ``mean_size``).
    """
    out = []
    mean_sizes = _values(plan, "mean_sizes") or [hparams["mean_size"]]
    for frames in _values(plan, "chunk_frames"):
        for mean_size in mean_sizes:
            out.append(Experiment(f"chunk_frame{'_'.join(map(str, frames))}_mean_size{mean_size}",
                                  {"chunk_frame": list(frames), "mean_size": mean_size,
                                   "chunk_s": frames[0] * mean_size / 25}))
    out += [Experiment(f"m_per_class{m}", {"m_per_class": m}) for m in _values(plan, "m_per_classes")]
    out += [Experiment(f"num_blocks{n}", {"encoder": {"num_blocks": n}}) for n in _values(plan, "num_blockss")]
    for aug in _values(plan, "spec_augmentations"):
        erase, roll = aug.get("random_erase", {}), aug.get("roll_pitch", {})
        name = (f"erase_prob{erase.get('prob')}_num{erase.get('erase_num')}_size"
                f"{'_'.join(map(str, erase.get('region_size', [])))}_roll_prob{roll.get('prob')}"
                f"_shift{roll.get('shift_num')}_{roll.get('method', 'default')}")
        out.append(Experiment(name, {"spec_augmentation": aug}))
    for loss in _values(plan, "losses"):
        foc, triplet, center = loss.get("foc", {}), loss.get("triplet", {}), loss.get("center", {})
        name = (f"FOC_dims{foc.get('output_dims')}_wt{foc.get('weight')}_gamma{foc.get('gamma')}_"
                f"TRIP_marg{triplet.get('margin')}_wt{triplet.get('weight')}_CNTR_wt{center.get('weight')}")
        out.append(Experiment(name, {"foc": foc, "triplet": triplet, "center": center}))
    out += [Experiment(f"lrate{lr}", {"learning_rate": lr}) for lr in _values(plan, "learning_rates")]
    out += [Experiment(f"lr_decay{d}", {"lr_decay": d}) for d in _values(plan, "lr_decays")]
    for betas in _values(plan, "adam_betas"):
        if not isinstance(betas, list) or len(betas) != 2:
            raise ConfigError(f"tuning: adam_betas entries are [b1, b2] pairs, not {betas!r}")
        out.append(Experiment("adam_betas" + "_".join(map(str, betas)), {"adam_b1": betas[0], "adam_b2": betas[1]}))
    optimizers = plan["optimizers"] if "optimizers" in plan else ["adamw"]
    out += [Experiment(f"optimizer_{name}", {"optimizer": name}) for name in (optimizers or [])]
    return out


def read_tuning(path: str | Path, config: CoverHunterTrainConfig) -> dict[str, Any]:
    """A tuning file's mapping, checked against the config.

    Raises:
        ConfigError: an unknown key, no ``early_stopping_patience``, ``early_stop_metric`` other
            than ``val_loss``, a ``test_name`` that is not one of the config's test sets.
    """
    from .config import load_yaml

    plan = load_yaml(path)
    unknown = sorted(set(plan) - _KNOWN)
    if unknown:
        raise ConfigError(f"{path}: unknown tuning key {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})")
    if plan.get("early_stop_metric", "val_loss") != "val_loss":
        raise ConfigError(f"{path}: early_stop_metric must be 'val_loss' (songscope stops on the validation loss)")
    if not isinstance(plan.get("early_stopping_patience"), int) or plan["early_stopping_patience"] < 1:
        raise ConfigError(f"{path}: early_stopping_patience (a positive number of epochs) is required")
    if plan.get("test_name") not in config.hparams.testsets:
        raise ConfigError(f"{path}: test_name {plan.get('test_name')!r} is not a test set of the config "
                          f"({', '.join(config.hparams.testsets) or 'it has none'})")
    if not isinstance(plan.get("seeds", [config.hparams.seed]), list):
        raise ConfigError(f"{path}: seeds must be a list")
    return plan


def slope(x: Sequence[float], y: Sequence[float], window: int) -> float:
    """Least-squares slope of the last ``window`` points (0 for fewer than two)."""
    window = min(window, len(x))
    if window < 2:
        return 0.0
    xs, ys = np.asarray(x[-window:], dtype=float), np.asarray(y[-window:], dtype=float)
    spread = ((xs - xs.mean()) ** 2).sum()
    return float(((xs - xs.mean()) * (ys - ys.mean())).sum() / spread) if spread else 0.0


def run_metrics(metrics_csv: str | Path, test_name: str, window: int, epoch_steps: int,
                others: Sequence[str] = ()) -> dict[str, float]:
    """A run's summary numbers from its ``metrics.csv`` (epochs = step / ``epoch_steps``).

    Returns:
        ``val_loss``, ``val_loss_slope``, ``best_val_loss``, ``best_val_loss_epoch``, ``map``,
        ``map_slope``, ``best_map``, ``best_map_epoch`` and ``bmap_<name>`` for ``others``.

    Raises:
        InputError: no validation row, or no mAP of ``test_name``.
    """
    with open(metrics_csv, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    def series(column: str) -> tuple[list[float], list[float]]:
        points = [(int(r["step"]) / epoch_steps, float(r[column])) for r in rows if r.get(column)]
        return [p[0] for p in points], [p[1] for p in points]

    epochs, losses = series("val/loss")
    map_epochs, maps = series(f"val/mAP_{test_name}")
    if not losses or not maps:
        raise InputError(f"{metrics_csv}: no validation loss or no mAP of {test_name!r}")
    best_loss, best_map = int(np.argmin(losses)), int(np.argmax(maps))
    out = {"val_loss": losses[-1], "val_loss_slope": slope(epochs, losses, window), "best_val_loss": losses[best_loss],
           "best_val_loss_epoch": epochs[best_loss], "map": maps[-1], "map_slope": slope(map_epochs, maps, window),
           "best_map": maps[best_map], "best_map_epoch": map_epochs[best_map]}
    for name in others:
        values = series(f"val/mAP_{name}")[1]
        if values:
            out[f"bmap_{name}"] = values[-1]
    return out


def summarize(runs: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """Mean and (population) standard deviation of every number over the runs that finished
    (None: the run diverged), with ``n_seeds`` and ``n_diverged``."""
    done = [r for r in runs if r is not None]
    out: dict[str, Any] = {"n_seeds": len(runs), "n_diverged": len(runs) - len(done)}
    for key in dict.fromkeys(k for r in done for k in r):
        values = [r[key] for r in done if key in r]
        out[key] = {"mean": float(np.mean(values)), "std": float(np.std(values))}
    return out


def format_summary(summaries: Mapping[str, dict[str, Any]], test_name: str) -> str:
    """Their "Summary of Experiments" text."""
    lines = ["Summary of Experiments:"]
    for name, result in summaries.items():
        lines += ["", f"Experiment: {name}"]
        if result["n_diverged"] == result["n_seeds"]:
            lines.append(f"  *** ALL {result['n_seeds']} SEEDS DIVERGED (NaN loss / gradient explosion) — "
                         "no metrics available ***")
            continue
        if result["n_diverged"]:
            lines.append(f"  WARNING: {result['n_diverged']}/{result['n_seeds']} seeds diverged — statistics "
                         f"computed from {result['n_seeds'] - result['n_diverged']} seeds only")
        loss, slope_of_loss = result["val_loss"], result["val_loss_slope"]
        lines.append(f"  val_loss: {loss['mean']:.4f}±{loss['std']:.4f}  (slope: {slope_of_loss['mean']:+.4f})")
        lines.append(f"  mAP [{test_name}]: {result['map']['mean']:.4f}±{result['map']['std']:.4f}  "
                     f"(slope: {result['map_slope']['mean']:+.4f})  (best: {result['best_map']['mean']:.4f} "
                     f"@epoch {result['best_map_epoch']['mean']:.1f})")
        for key in sorted(k for k in result if k.startswith("bmap_")):
            lines.append(f"  mAP [{key[5:]}]: {result[key]['mean']:.4f}±{result[key]['std']:.4f}  (benchmark)")
    return "\n".join(lines) + "\n"


def _run(config: CoverHunterTrainConfig, folder: Path, test_name: str, window: int,
         init: dict | None, progress: bool) -> dict[str, float] | None:
    """One experiment run (or its stored result); None when it diverged."""
    from .training import fit, read_lists

    done = folder / "result.json"
    if done.exists():
        return json.loads(done.read_text())["metrics"]
    hparams = config.hparams
    train, val, test = read_lists(hparams)
    try:
        fit(config, train, val, test, init=init, progress=progress)
        metrics = run_metrics(folder / "metrics.csv", test_name, window,
                              steps_per_epoch([item.work_id for item in train], hparams),
                              [name for name in hparams.testsets if name != test_name])
    except TrainingDiverged:
        metrics = None
    write_text(done, json.dumps({"metrics": metrics}, indent=2) + "\n")
    for name in ("last.pt", "best.pt"):
        (folder / name).unlink(missing_ok=True)
    return metrics


def tune_coverhunter(config: CoverHunterTrainConfig, tuning: Path, progress: bool = True) -> Path:
    """Run the tuning file's experiments (see the module docstring); returns ``summary.txt``.

    Raises:
        ConfigError: a bad tuning file, or an experiment's hparams that do not hold together.
    """
    from ..models.converters import read_checkpoint

    plan = read_tuning(tuning, config)
    window = plan["early_stopping_patience"]
    base = config.with_hparams({**(plan.get("hp_overrides") or {}), "early_stopping_patience": window,
                                "max_epochs": plan.get("max_epochs", _DEFAULT_EPOCHS)}, tuning)
    init = read_checkpoint(plan["foundation_checkpoint"]).state_dict if plan.get("foundation_checkpoint") else None
    root = Path(config.train.out_dir) / "tune"
    summaries = {}
    for experiment in experiments(plan, base.hparams.to_hparams()):
        runs = []
        for seed in plan.get("seeds", [config.hparams.seed]):
            run = base.with_hparams({**experiment.changes, "seed": seed}, f"{tuning} [{experiment.name}]")
            folder = root / f"{experiment.name}_seed_{seed}"
            run = replace(run, train=replace(run.train, out_dir=str(folder)))
            runs.append(_run(run, folder, plan["test_name"], window, init, progress))
        summaries[experiment.name] = summarize(runs)
    text = format_summary(summaries, plan["test_name"])
    write_text(root / "summary.json", json.dumps(summaries, indent=2) + "\n")
    return write_text(root / "summary.txt", text)
