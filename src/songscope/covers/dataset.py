"""CoverHunterMPS's data preparation (``tools/extract_csi_features.py``) for songscope.

Input: CoverHunterMPS's ``dataset.txt`` (one performance a line, JSON or tab-separated
``key:value``; fields ``perf``, ``wav``, ``dur_s``, ``work``, ``version``), or a folder of audio
with a CSV of ``path,work`` rows. Output, in their layout under ``OUT``:

- ``data.init.txt``: the input sorted by ``perf``, later duplicates of a ``perf`` dropped;
- ``sp_wav/sp_<ratio>-<perf>.wav`` and ``sp_aug.txt``: speed variants for every ``aug_speed_mode``
  ratio (ratios within 0.01 of 1 keep the original), ``dur_s`` divided by the ratio and rounded to
  0.01 s, as their stage 3 writes them;
- ``cqt_feat/<perf>.cqt.npy``: the features of every variant, (frames, n_bins) float32 decibels
  from :func:`songscope.covers.features.csi_features` (25 frames per second);
- ``full.txt``: every variant with ``feat``, ``feat_len``, ``work_id`` (works numbered in order of
  first appearance) and ``version_id`` (the line's index among its work's lines), as JSON lines;
- ``work_id.map``: ``<work_id> <work>`` per line;
- ``train.txt``, ``val.txt``, ``test.txt`` and ``test-only-work-ids.txt``: their stage 13 split
  (:func:`split_by_work`).

Differences from their tool, on purpose: speed variants are made by resampling with soxr (their
``sox tempo`` keeps the pitch; resampling also transposes by ``12 log2(ratio)`` semitones, and
needs no sox binary); noise variants are added to ``full.txt`` beside the clean ones (their stage 5
overwrites ``full.txt`` with the noisy lines only); a second run recomputes nothing that exists
but always rewrites the lists (theirs skips whole stages once ``full.txt`` exists); the split's
random draws are seeded (``seed``) so a run is reproducible.
"""

from __future__ import annotations

import csv
import json
import random
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..atomic import atomic_path, write_text
from ..errors import ConfigError, Failure, InputError
from .config import CoverHunterConfig
from .features import CSI_SAMPLE_RATE, CSIFeatureSpec

__all__ = ["FeatureReport", "NoiseSettings", "RARE_DELIMITER", "SplitSettings", "extract_performance",
           "feature_frames", "parse_line", "prepare_features", "read_data_hparams", "read_list", "resolve_audio",
           "split_by_work", "write_list"]

#: CoverHunter's separator inside generated ``perf`` names ("▁").
RARE_DELIMITER = "\u2581"
_SPEED_TOLERANCE = 0.01
_SNR_CHOICES = (-30.0, -20.0, -10.0, 0.0, 10.0)
_NOISE_PEAK, _MIX_PEAK = 0.495, 0.95


def parse_line(line: str) -> dict[str, Any]:
    """One line of a CoverHunterMPS list: a JSON object, or tab-separated ``key:value`` fields
    (the value is everything after the first colon)."""
    line = line.strip()
    if line.startswith("{"):
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise InputError(f"not a JSON line ({exc}): {line[:80]}") from None
        if not isinstance(row, dict):
            raise InputError(f"not a JSON object: {line[:80]}")
        return row
    return {key: value for key, _, value in (field.partition(":") for field in line.split("\t"))}


def read_list(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a CoverHunterMPS list file (``dataset.txt``, ``full.txt``, ``train.txt``, ...);
    blank lines are skipped.

    Raises:
        InputError: a missing file or a malformed line (named with its line number).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such list file")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(parse_line(line))
            except InputError as exc:
                raise InputError(f"{path}:{number}: {exc}") from None
    return rows


def write_list(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Write rows as JSON lines (their ``dict_to_line``), atomically."""
    return write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def feature_frames(path: str | Path) -> int:
    """Frames of a saved feature file, read from its header (the data is not loaded)."""
    return int(np.load(path, mmap_mode="r").shape[0])


def read_data_hparams(path: str | Path | None) -> CoverHunterConfig:
    """CoverHunterMPS's data-preparation ``hparams.yaml`` (``fmin``, ``n_bins``,
    ``bins_per_octave``, ``aug_speed_mode``, ``add_noise``, the four split fractions, ``seed``),
    or a training config holding those keys too (YAML, TOML or JSON; its songscope ``train``
    table and ``family`` are not read here); None gives the defaults (no augmentation,
    everything in ``train.txt``). ``input_dim`` follows ``n_bins`` when the file does not set it.

    Raises:
        ConfigError: a missing or unreadable file, an unknown key, a bad value.
    """
    from ..train.config import read_settings

    if path is None:
        return CoverHunterConfig()
    data = {k: v for k, v in read_settings(path).items() if k not in ("train", "family")}
    if "n_bins" in data and "input_dim" not in data:
        data["input_dim"] = data["n_bins"]
    return CoverHunterConfig.from_hparams(data, path)


@dataclass(frozen=True)
class NoiseSettings:
    """Noise augmentation (``add_noise``): every ``chunk`` seconds of a variant is replaced, with
    probability ``prob``, by the same stretch of a noise recording (a random one of ``files``,
    from a random start, looped), then mixed in at an SNR drawn from -30, -20, -10, 0, 10 dB, as
    CoverHunter's ``SignalAug`` does. ``name`` tags the variants' ``perf``."""

    files: tuple[str, ...]
    prob: float = 0.75
    chunk: float = 3.0
    name: str = "noise"


@dataclass(frozen=True)
class SplitSettings:
    """Their four split fractions: ``val_data_split`` / ``test_data_split`` (share of each
    remaining work's lines in val / test) and ``val_unseen`` / ``test_data_unseen`` (share of the
    works held out whole for val / test)."""

    val_data_split: float = 0.0
    val_unseen: float = 0.0
    test_data_split: float = 0.0
    test_data_unseen: float = 0.0


def split_by_work(rows: Sequence[dict[str, Any]], settings: SplitSettings,
                  rng: random.Random) -> tuple[list[dict], list[dict], list[dict], list[int]]:
    """CoverHunterMPS's stage-13 split of ``full.txt`` rows (with ``work_id``) by work.

    ``max(1, int(works * test_data_unseen))`` works, drawn at random, go whole to test (only when
    both test fractions are positive), then ``max(1, int(works * val_unseen))`` of the rest whole
    to val (when ``val_unseen`` is positive). When either line fraction is positive, each other
    work's lines are shuffled and cut: ``max(1, int(n * val_data_split))`` to val, then
    ``max(1, int(n * test_data_split))`` to test (none when ``test_data_split`` is 0; one fewer once
    test already holds more than ``test_data_split`` times train's lines), the rest to train.
    Otherwise every other work goes whole to train. (Their code writes that last comparison so
    that, by operator precedence, it fires whenever test holds anything; here it compares.)

    Returns:
        ``(train, val, test, test-only work ids)``.
    """
    works: dict[int, list[dict]] = {}
    for row in rows:
        works.setdefault(row["work_id"], []).append(row)
    ids = list(works)
    test_ratio, val_ratio = settings.test_data_split, settings.val_data_split
    test_only_count = max(1, int(len(ids) * settings.test_data_unseen)) \
        if settings.test_data_unseen > 0 and test_ratio > 0 else 0
    test_only = rng.sample(ids, test_only_count)
    remaining = [w for w in ids if w not in test_only]
    val_only_count = max(1, int(len(ids) * settings.val_unseen)) if settings.val_unseen > 0 else 0
    val_only = rng.sample(remaining, val_only_count)
    remaining = [w for w in remaining if w not in val_only]
    test = [row for w in test_only for row in works[w]]
    val = [row for w in val_only for row in works[w]]
    train: list[dict] = []
    if val_ratio > 0 or test_ratio > 0:
        held_val, held_test = [], []
        for work in remaining:
            samples = list(works[work])
            rng.shuffle(samples)
            val_split = max(1, int(len(samples) * val_ratio))
            least = 1 if test_ratio > 0 else 0
            test_split = max(least, int(len(samples) * test_ratio))
            if train and (len(test) + len(held_test)) / len(train) > test_ratio:
                test_split = max(least, test_split - 1)
            held_val += samples[:val_split]
            held_test += samples[val_split:val_split + test_split]
            train += samples[val_split + test_split:]
        val += held_val
        test += held_test
    else:
        train = [row for w in remaining for row in works[w]]
    return train, val, test, test_only


@dataclass(frozen=True)
class _Job:
    """One input performance and everything to make of it (picklable for worker processes).

    Attributes:
        row: its ``dataset.txt`` fields. audio: the audio file. out: the output folder as given.
        speeds: ``aug_speed_mode`` ratios. noise: noise augmentation or None.
        spec: the CQT settings. seed: seeds the noise draws.
    """

    row: dict[str, Any]
    audio: str
    out: str
    speeds: tuple[float, ...]
    noise: NoiseSettings | None
    spec: CSIFeatureSpec
    seed: int


def _variant_rows(job: _Job, duration: float) -> list[tuple[dict[str, Any], float]]:
    """The speed variants of a performance as ``(row, ratio)`` (stage 3's fields)."""
    out = []
    for speed in job.speeds:
        row = dict(job.row)
        if abs(speed - 1.0) > _SPEED_TOLERANCE:
            row["perf"] = f"sp_{speed}-{job.row['perf']}"
            row["wav"] = str(Path(job.out) / "sp_wav" / f"{row['perf']}.wav")
        row["dur_s"] = round(duration / speed, 2)
        out.append((row, speed))
    return out


def _noise_signal(job: _Job, length: int, rng: np.random.Generator) -> np.ndarray:
    """(length,) noise to add: the chosen chunks of a looped noise recording, zeros elsewhere."""
    from ..audio.signal import load_mono

    noise = job.noise
    source = load_mono(noise.files[int(rng.integers(len(noise.files)))], CSI_SAMPLE_RATE)[0]
    start = int(rng.integers(0, len(source) + 1))
    looped = np.concatenate([source[start:]] + [source] * (length // len(source) + 1))[:length]
    chunk = max(1, int(round(noise.chunk * CSI_SAMPLE_RATE)))
    out = np.zeros(length, dtype=np.float64)
    for first in range(0, length - chunk + 1, chunk):
        if rng.random() <= noise.prob:
            out[first:first + chunk] = looped[first:first + chunk]
    return out


def _with_noise(job: _Job, signal: np.ndarray, perf: str) -> np.ndarray:
    """``signal`` (N,) with noise mixed in: both scaled to peak 0.495, the noise by
    ``10^(-snr/20)``, the sum to peak 0.95 (deterministic in ``seed`` and ``perf``)."""
    rng = np.random.default_rng([job.seed, zlib.crc32(perf.encode("utf-8"))])
    noise = _noise_signal(job, len(signal), rng)
    snr = _SNR_CHOICES[int(rng.integers(len(_SNR_CHOICES)))]
    clean = signal / max(0.001, np.abs(signal).max()) * _NOISE_PEAK
    noise = noise / max(0.001, np.abs(noise).max()) * _NOISE_PEAK
    mixed = clean + noise * np.sqrt(1.0 / 10 ** (snr / 10.0))
    return mixed / max(0.001, np.abs(mixed).max()) * _MIX_PEAK


def _save_features(path: Path, signal: np.ndarray, spec: CSIFeatureSpec) -> int:
    from .features import csi_features

    features = csi_features(signal, spec)
    with atomic_path(path) as tmp:
        np.save(tmp, features)
    return len(features)


def extract_performance(job: _Job) -> tuple[list[dict[str, Any]], int]:
    """The ``full.txt`` rows (without ``work_id`` / ``version_id``) of one performance's variants,
    computing only the features and speed-variant files that do not exist yet.

    Returns:
        ``(rows, features computed)``.

    Raises:
        AudioError / InputError: the performance's audio cannot be decoded.
    """
    import soxr

    from ..audio.decode import info
    from ..audio.save import save_audio
    from ..audio.signal import load_mono

    out = Path(job.out)
    duration = float(job.row["dur_s"]) if "dur_s" in job.row else info(job.audio).duration
    variants = _variant_rows(job, duration)
    planned = []  # (row, ratio, noise variant?)
    for row, speed in variants:
        row["feat"] = str(out / "cqt_feat" / f"{row['perf']}.cqt.npy")
        planned.append((row, speed, False))
    if job.noise is not None:
        for row, speed in variants:
            noisy = {**row, "perf": f"{row['perf']}{RARE_DELIMITER}noise_{job.noise.name}"}
            noisy["feat"] = str(out / "cqt_with_noise" / f"{noisy['perf']}.cqt.npy")
            planned.append((noisy, speed, True))
    def needs_wav(row: dict[str, Any], speed: float, noisy: bool) -> bool:
        return not noisy and abs(speed - 1.0) > _SPEED_TOLERANCE and not Path(row["wav"]).exists()

    missing = [(row, speed, noisy) for row, speed, noisy in planned
               if not Path(row["feat"]).exists() or needs_wav(row, speed, noisy)]
    computed = 0
    if missing:
        original = np.asarray(load_mono(job.audio, CSI_SAMPLE_RATE)[0], dtype=np.float64)
        for row, speed, noisy in missing:
            signal = original if abs(speed - 1.0) <= _SPEED_TOLERANCE else \
                soxr.resample(original, CSI_SAMPLE_RATE * speed, CSI_SAMPLE_RATE)
            if needs_wav(row, speed, noisy):
                save_audio(row["wav"], signal, CSI_SAMPLE_RATE)
            if not Path(row["feat"]).exists():
                _save_features(Path(row["feat"]), _with_noise(job, signal, row["perf"]) if noisy else signal,
                               job.spec)
                computed += 1
    for row, _, _ in planned:
        row["feat_len"] = feature_frames(row["feat"])
    return [row for row, _, _ in planned], computed


@dataclass
class FeatureReport:
    """What :func:`prepare_features` wrote.

    Attributes:
        full: ``full.txt``. performances: inputs read. lines: its rows. computed: feature files
        computed by this run
        (the others existed). works: distinct works. splits: rows per split file written.
        test_only_works: work ids held out whole for test. failures: performances that could not
        be read (left out). notes: settings that were not applied, and why.
    """

    full: Path
    performances: int
    lines: int
    computed: int
    works: int
    splits: dict[str, int]
    test_only_works: list[int]
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def resolve_audio(value: str, base: Path) -> Path:
    """An audio path of a list: absolute, relative to the working folder (their convention),
    or relative to the list's folder."""
    path = Path(value)
    if path.is_absolute() or path.exists():
        return path
    return base / path


def _rows_from_dataset(path: Path) -> list[dict[str, Any]]:
    rows = read_list(path)
    for number, row in enumerate(rows, 1):
        missing = [k for k in ("perf", "wav", "work") if not row.get(k)]
        if missing:
            raise InputError(f"{path}: line {number} has no {missing[0]!r} field")
        if "dur_s" not in row and "dur_ms" in row:
            row["dur_s"] = float(row.pop("dur_ms")) / 1000.0
        if "dur_s" in row:
            try:
                row["dur_s"] = float(row["dur_s"])
            except (TypeError, ValueError):
                raise InputError(f"{path}: line {number} has a dur_s that is not a number") from None
    return rows


def _rows_from_folder(folder: Path, works_csv: Path) -> list[dict[str, Any]]:
    """``perf`` is the file's path below ``folder`` without its suffix, ``/`` written as ``-``;
    ``version`` is that path; ``wav`` the file."""
    if not works_csv.is_file():
        raise InputError(f"{works_csv}: no such CSV of path,work rows")
    with open(works_csv, newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    if not table or not {"path", "work"} <= set(table[0]):
        raise InputError(f"{works_csv}: needs 'path' and 'work' columns")
    rows = []
    for entry in table:
        relative = Path(entry["path"])
        perf = relative.with_suffix("").as_posix().replace("/", "-")
        rows.append({"perf": perf, "wav": str(folder / relative), "work": entry["work"],
                     "version": relative.as_posix()})
    return rows


def _dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stage 0: sorted by ``perf``; a repeated ``perf`` keeps its first line."""
    seen, out = set(), []
    for row in sorted(rows, key=lambda r: str(r["perf"])):
        if row["perf"] not in seen:
            seen.add(row["perf"])
            out.append(row)
    for row in out:
        if "/" in str(row["perf"]) or "\\" in str(row["perf"]):
            raise InputError(f"perf {row['perf']!r} holds a path separator; perf names become file names")
    return out


def _noise_settings(config: CoverHunterConfig, notes: list[str]) -> NoiseSettings | None:
    """``add_noise`` as :class:`NoiseSettings`, or None (with a note) when it is off or its list
    is absent (CoverHunterMPS skips the stage then too)."""
    spec = config.add_noise
    if not spec or float(spec.get("prob", 0.0)) <= _SPEED_TOLERANCE:
        return None
    listed = spec.get("noise_path")
    if not listed or not Path(listed).is_file():
        notes.append(f"add_noise.noise_path {listed!r} not found: no noise augmentation (CoverHunterMPS skips it too)")
        return None
    files = []
    for row in read_list(listed):
        value = row.get("wav") or next(iter(row))
        files.append(str(resolve_audio(value, Path(listed).parent)))
    if not files:
        raise ConfigError(f"{listed}: lists no noise files")
    return NoiseSettings(tuple(files), float(spec.get("prob", 0.75)), float(spec.get("chunk", 3)),
                         str(spec.get("name", "noise")))


def _split_settings(config: CoverHunterConfig) -> SplitSettings:
    values = {name: getattr(config, name) or 0.0 for name in ("val_data_split", "val_unseen", "test_data_split",
                                                              "test_data_unseen")}
    if any(not 0.0 <= v < 1.0 for v in values.values()):
        raise ConfigError("val_data_split, val_unseen, test_data_split and test_data_unseen must be in [0, 1)")
    return SplitSettings(**values)


def _number(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Stage 8 (``work_id`` by first appearance) and CoverHunter's ``version_id`` (index among
    the work's lines); returns work -> id."""
    ids: dict[str, int] = {}
    versions: dict[int, int] = {}
    for row in rows:
        work_id = ids.setdefault(row["work"], len(ids))
        row["work_id"] = work_id
        row["version_id"] = versions.get(work_id, 0)
        versions[work_id] = row["version_id"] + 1
    return ids


def prepare_features(dataset: str | Path, out: str | Path, config: CoverHunterConfig,
                     works_csv: str | Path | None = None, jobs: int = 1, progress: bool = False) -> FeatureReport:
    """Make CoverHunterMPS's training data from a dataset (see the module docstring).

    Args:
        dataset: ``dataset.txt`` (audio paths absolute, relative to the working folder, or
            relative to the file's folder), or a folder of audio.
        out: output folder (``feat`` and speed-variant paths in the lists are written under it as
            given, like their ``feat_dir``).
        config: the data-preparation settings (:func:`read_data_hparams`).
        works_csv: with a folder: the CSV of ``path,work`` rows (paths relative to the folder);
            default ``<folder>/works.csv``.
        jobs: worker processes. progress: a progress bar on stderr.

    Returns:
        :class:`FeatureReport`.

    Raises:
        InputError: an unreadable dataset, or no performance could be read.
        ConfigError: bad settings.
    """
    from ..library.runner import run_batch

    dataset, out = Path(dataset), Path(out)
    if not dataset.exists():
        raise InputError(f"{dataset}: no such dataset.txt or folder of audio")
    if dataset.is_dir():
        rows = _rows_from_folder(dataset, Path(works_csv) if works_csv else dataset / "works.csv")
        base = dataset
    else:
        rows = _rows_from_dataset(dataset)
        base = dataset.parent
    rows = _dedupe(rows)
    if not rows:
        raise InputError(f"{dataset}: no performances listed")
    notes: list[str] = []
    splits = _split_settings(config)
    speeds = tuple(float(s) for s in (config.aug_speed_mode or [1.0]))
    if any(s <= 0 for s in speeds):
        raise ConfigError("aug_speed_mode ratios must be positive")
    noise = _noise_settings(config, notes)
    write_list(out / "data.init.txt", rows)
    jobs_list = [_Job(row, str(resolve_audio(str(row["wav"]), base)), str(out), speeds, noise, config.feature_spec,
                      config.seed) for row in rows]
    results, failures = run_batch(extract_performance, jobs_list, jobs=jobs, progress=progress, desc="features")
    done = [r for r in results if r is not None]
    if not done:
        raise InputError(f"{dataset}: no performance could be read ({failures[0].message})")
    full = [row for rows_of, _ in done for row in rows_of]
    write_list(out / "sp_aug.txt", [{k: v for k, v in row.items() if k not in ("feat", "feat_len")}
                                    for row in full if RARE_DELIMITER not in row["perf"]])
    ids = _number(full)
    write_list(out / "full.txt", full)
    write_text(out / "work_id.map", "".join(f"{work_id} {work}\n" for work, work_id in ids.items()))
    train, val, test, test_only = split_by_work(full, splits, random.Random(config.seed))
    counts = {}
    for name, part in (("train", train), ("val", val), ("test", test)):
        target = out / f"{name}.txt"
        if part or name == "train":
            write_list(target, part)
            counts[name] = len(part)
        elif target.exists():
            target.unlink()
    listed = out / "test-only-work-ids.txt"
    if test_only:
        write_text(listed, "".join(f"{json.dumps(w)}\n" for w in test_only))
    elif listed.exists():
        listed.unlink()
    return FeatureReport(out / "full.txt", len(done), len(full), sum(n for _, n in done), len(ids), counts,
                         test_only, failures, notes)

