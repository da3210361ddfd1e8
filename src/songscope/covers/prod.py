"""Production training as CoverHunterMPS's ``tools/train_prod.py`` does it, and the report of
their ``tools/report_prod_logs.py``.

``train_path`` (their ``full.txt``) is cut into ``k_folds`` stratified folds (:func:`stratified_folds`:
each work's lines spread evenly over the folds, drawn with ``seed``). Fold ``i`` trains on the
other folds and validates on fold ``i``; fold 1 starts afresh at ``learning_rate`` with
``lr_decay``, every later fold from the best weights so far (lowest validation loss of any fold)
at ``lr_initial * r^(i - 2)``, ``r = (min_lr / lr_initial)^(1 / (k_folds - 1))``, with
``fold_lr_decay`` and ``fold_hold_steps``. A final run trains on all of ``train_path``,
validating on ``test_path``, from the best weights at ``lr_initial * r^(final_fold_position - 2)``
(default position ``k_folds - 0.5``) with ``final_lr_decay`` and ``final_early_stopping_patience``
(default ``early_stopping_patience``); its best weights become ``<out_dir>/model.pt``.

Everything lives in ``<out_dir>/prod/``: ``folds.json`` (the folds, drawn once), ``fold_<i>/``
and ``full/`` (the fold's ``train.txt`` / ``val.txt`` and the loop's files), ``result.json`` in a
finished run's folder, ``global_best.json``. Running the same command again after an interruption
skips finished folds and resumes the unfinished one from its ``last.pt``. A finished fold keeps
only ``best.pt``, and only while it holds the best weights so far. ``<out_dir>/prod_report.txt``:
the best epochs of every test set over all folds and the final run, and the best by mean mAP
over the test sets (their report, without the elapsed times).

Unlike theirs, each fold counts ``max_epochs`` afresh (theirs counts epochs across folds), and a
fold starts its optimiser afresh (theirs carries the AdamW moments over).
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..atomic import write_text
from ..errors import ConfigError
from .dataset import read_list, write_list
from .train_config import CoverHunterTrainConfig, steps_per_epoch

__all__ = ["fold_learning_rate", "prod_coverhunter", "prod_report", "stratified_folds"]

_TOP = 3


def stratified_folds(work_ids: Sequence[int], k: int, seed: int) -> list[list[int]]:
    """Validation line indices of ``k`` folds: each work's lines, shuffled, dealt to the folds in
    turn, the dealing going on where the previous work's stopped (so folds differ in size by at
    most one line and each holds ``n // k`` or ``n // k + 1`` of a work's ``n`` lines)."""
    rng = np.random.default_rng(seed)
    by_work: dict[int, list[int]] = {}
    for index, work in enumerate(work_ids):
        by_work.setdefault(work, []).append(index)
    folds: list[list[int]] = [[] for _ in range(k)]
    turn = 0
    for work in sorted(by_work):
        for index in rng.permutation(by_work[work]):
            folds[turn % k].append(int(index))
            turn += 1
    return [sorted(fold) for fold in folds]


def fold_learning_rate(position: float, lr_initial: float, min_lr: float, k: int) -> float:
    """Their starting rate of fold ``position`` (2 = ``lr_initial``; ``k + 1`` would be ``min_lr``)."""
    return lr_initial * (min_lr / lr_initial) ** ((position - 2) / (k - 1))


def _check(hparams: Any) -> None:
    missing = [k for k in ("k_folds", "lr_initial", "fold_lr_decay", "final_lr_decay", "test_path")
               if getattr(hparams, k) is None]
    if missing:
        raise ConfigError(f"production training needs {missing[0]} in the hparams (see CoverHunterMPS's "
                          "hparams_prod.yaml)")
    if hparams.k_folds < 2 or hparams.lr_initial <= 0 or hparams.min_lr <= 0:
        raise ConfigError("production training needs k_folds >= 2 and positive lr_initial and min_lr")


def _folds(root: Path, rows: list[dict], k: int, seed: int) -> list[list[int]]:
    """The folds of ``folds.json``, drawn and saved on the first run."""
    stored = root / "folds.json"
    if stored.exists():
        saved = json.loads(stored.read_text())
        if saved["lines"] != len(rows) or len(saved["folds"]) != k:
            raise ConfigError(f"{stored} holds {len(saved['folds'])} folds of {saved['lines']} lines, not {k} of "
                              f"{len(rows)}: use another out_dir for another training list or k_folds")
        return saved["folds"]
    folds = stratified_folds([row["work_id"] for row in rows], k, seed)
    write_text(stored, json.dumps({"lines": len(rows), "folds": folds}) + "\n")
    return folds


def _finish(folder: Path, result: Any, epoch_steps: int, root: Path, fold: bool) -> dict[str, Any]:
    """Record a finished run (a fold's best first updates ``global_best.json``, then
    ``result.json`` is written) and delete the fold checkpoints no later run needs."""
    best_file = root / "global_best.json"
    best = json.loads(best_file.read_text()) if best_file.exists() else None
    if fold and (best is None or result.best_loss < best["value"]):
        previous = Path(best["checkpoint"]) if best else None
        best = {"run": folder.name, "value": result.best_loss, "epoch": result.best_step / epoch_steps,
                "checkpoint": str(result.best_checkpoint)}
        write_text(best_file, json.dumps(best, indent=2) + "\n")
        if previous is not None:
            previous.unlink(missing_ok=True)
    record = {"run": folder.name, "best_loss": result.best_loss, "best_step": result.best_step,
              "best_epoch": result.best_step / epoch_steps, "steps": result.step, "stopped_early": result.stopped_early,
              "steps_per_epoch": epoch_steps, "best_checkpoint": str(result.best_checkpoint),
              "last_checkpoint": str(result.last_checkpoint)}
    write_text(folder / "result.json", json.dumps(record, indent=2) + "\n")
    if fold:
        (folder / "last.pt").unlink(missing_ok=True)
        if best["checkpoint"] != str(result.best_checkpoint):
            (folder / "best.pt").unlink(missing_ok=True)
    return record


def _run_config(config: CoverHunterTrainConfig, folder: Path, changes: dict[str, Any]) -> CoverHunterTrainConfig:
    """A fold's (or the final run's) settings: its lists, its rates, its folder."""
    run = config.with_hparams({**changes, "train_path": str(folder / "train.txt"), "val_path": str(folder / "val.txt")})
    return replace(run, train=replace(run.train, out_dir=str(folder)))


def _run(run: CoverHunterTrainConfig, train: list, val: list, root: Path, progress: bool) -> dict[str, Any]:
    """Train one fold (or the final run) unless it has finished; its ``result.json`` record."""
    from ..models.converters import read_checkpoint
    from .training import fit

    folder = Path(run.train.out_dir)
    if (folder / "result.json").exists():
        return json.loads((folder / "result.json").read_text())
    best_file = root / "global_best.json"
    init = read_checkpoint(json.loads(best_file.read_text())["checkpoint"]).state_dict if best_file.exists() else None
    result = fit(run, [item for item, _ in train], [item for item, _ in val], init=init, progress=progress)
    return _finish(folder, result, steps_per_epoch([item.work_id for item, _ in train], run.hparams), root,
                   folder.name != "full")


def _write_lists(folder: Path, train: list, val: list) -> None:
    if not (folder / "val.txt").exists():
        write_list(folder / "train.txt", [row for _, row in train])
        write_list(folder / "val.txt", [row for _, row in val])


def prod_coverhunter(config: CoverHunterTrainConfig, progress: bool = True) -> tuple[Any, Path]:
    """Run production training (see the module docstring); returns the final run's loop result
    and ``<out_dir>/model.pt``.

    Raises:
        ConfigError: missing production settings (``k_folds``, ``lr_initial``, ``fold_lr_decay``,
            ``final_lr_decay``, ``test_path``), or a ``folds.json`` of another list.
    """
    from ..train.loop import TrainResult
    from .training import export_model, read_items

    hparams = config.hparams
    _check(hparams)
    hop = float(hparams.cqt.get("hop_size", 0.04))
    rows = read_list(hparams.train_path)
    items = read_items(hparams.train_path, hop)
    for row, item in zip(rows, items):
        row["feat"] = item.feat  # the fold lists live elsewhere: feature paths as found
    pairs = list(zip(items, rows))
    out = Path(config.train.out_dir)
    root = out / "prod"
    folds = _folds(root, rows, hparams.k_folds, hparams.seed)
    k = hparams.k_folds
    for number, fold in enumerate(folds, 1):
        held = set(fold)
        train = [pair for index, pair in enumerate(pairs) if index not in held]
        val = [pairs[index] for index in fold]
        folder = root / f"fold_{number}"
        _write_lists(folder, train, val)
        changes = {"hold_steps": 0} if number == 1 else {
            "learning_rate": fold_learning_rate(number, hparams.lr_initial, hparams.min_lr, k),
            "lr_decay": hparams.fold_lr_decay, "hold_steps": hparams.fold_hold_steps or 0}
        _run(_run_config(config, folder, changes), train, val, root, progress)
    final = root / "full"
    test_rows = read_list(hparams.test_path)
    test = list(zip(read_items(hparams.test_path, hop), test_rows))
    for row, (item, _) in zip(test_rows, test):
        row["feat"] = item.feat
    _write_lists(final, pairs, test)
    position = hparams.final_fold_position if hparams.final_fold_position is not None else k - 0.5
    changes = {"learning_rate": fold_learning_rate(position, hparams.lr_initial, hparams.min_lr, k),
               "lr_decay": hparams.final_lr_decay, "hold_steps": hparams.fold_hold_steps or 0,
               "early_stopping_patience": hparams.final_early_stopping_patience or hparams.early_stopping_patience}
    final_config = _run_config(config, final, changes)
    record = _run(final_config, pairs, test, root, progress)
    result = TrainResult(record["steps"], record["best_loss"], record["best_step"], record["stopped_early"],
                         Path(record["last_checkpoint"]), Path(record["best_checkpoint"]))
    model = export_model(result, final_config, out / "model.pt")
    write_text(out / "prod_report.txt", prod_report(root, list(hparams.testsets)))
    return result, model


def _map_rows(folder: Path, testsets: Sequence[str]) -> list[tuple[str, float, dict[str, float]]]:
    """(run, epoch, {test set: mAP}) of every validation of a run."""
    record = json.loads((folder / "result.json").read_text()) if (folder / "result.json").exists() else {}
    epoch_steps = record.get("steps_per_epoch") or 1
    with open(folder / "metrics.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    out = []
    for row in rows:
        values = {name: float(row[f"val/mAP_{name}"]) for name in testsets if row.get(f"val/mAP_{name}")}
        if values:
            out.append((folder.name, int(row["step"]) / epoch_steps, values))
    return out


def prod_report(root: str | Path, testsets: Sequence[str]) -> str:
    """Their ``report_prod_logs`` over ``fold_*/`` and ``full/`` under ``root``: the three best
    epochs of every test set by mAP, the three best by the mean mAP over all test sets, and the
    best one's mAP per test set."""
    root = Path(root)
    runs = sorted((p for p in root.glob("fold_*") if (p / "metrics.csv").exists()),
                  key=lambda p: int(p.name.split("_")[1]))
    if (root / "full" / "metrics.csv").exists():
        runs.append(root / "full")
    rows = [row for folder in runs for row in _map_rows(folder, testsets)]
    if not rows:
        return "no test-set mAP was logged (the hparams name no test sets)\n"
    lines = ["=" * 60, "BEST EPOCHS BY INDIVIDUAL TEST SET", "=" * 60]
    for name in testsets:
        lines += ["", f"{name}:", f"  {'Rank':<6}{'Run':<10}{'Epoch':<8}{'mAP':<10}"]
        ranked = sorted((r for r in rows if name in r[2]), key=lambda r: r[2][name], reverse=True)[:_TOP]
        lines += [f"  {i:<6}{run:<10}{epoch:<8.4g}{values[name]:<10.4f}" for i, (run, epoch, values)
                  in enumerate(ranked, 1)]
    complete = [(run, epoch, float(np.mean(list(values.values()))), values) for run, epoch, values in rows
                if len(values) == len(testsets)]
    complete.sort(key=lambda r: r[2], reverse=True)
    lines += ["", "=" * 60, "BEST EPOCHS BY AVERAGE mAP (all test sets)", "=" * 60, "",
              f"  {'Rank':<6}{'Run':<10}{'Epoch':<8}{'Avg mAP':<10}"]
    lines += [f"  {i:<6}{run:<10}{epoch:<8.4g}{avg:<10.4f}" for i, (run, epoch, avg, _) in enumerate(complete[:_TOP], 1)]
    if complete:
        run, epoch, _, values = complete[0]
        lines += ["", f"  Detail for {run} epoch {epoch:g}:"] + [f"    {name}: {values[name]:.4f}" for name in testsets]
    return "\n".join(lines) + "\n"
