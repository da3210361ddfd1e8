"""Reading references and estimates into one shape, whatever file they come in.

Understood: JAMS (``.jams``: beat, tempo, key_mode, segment_open / segment_salami_function
namespaces), ``.beats`` / ``.txt`` beat lists (``time [position]`` per line, 1 = downbeat),
songscope and allin1 result JSON (``.json``), and CSV key tables (``path,key``, e.g. the
output of ``songscope key --format csv``; one file holds many tracks), and the
``manifest.csv`` of a ``songscope synth`` corpus (its annotations, by track).
"""

from __future__ import annotations

import csv
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["Annotation", "read_annotations", "track_name"]

SUFFIXES = (".jams", ".beats", ".txt", ".json", ".csv")


@dataclass
class Annotation:
    """What one file says about one track; missing parts are None.

    Attributes:
        beats: (N,) beat times (s). downbeats: (M,) downbeat times (s). bpm: tempo.
        key: e.g. "A minor", or a signature "C major/A minor" (12-class estimates).
        intervals: (n, 2) section boundaries (s). labels: n section labels.
        source: the file it came from.
    """

    beats: np.ndarray | None = None
    downbeats: np.ndarray | None = None
    bpm: float | None = None
    key: str | None = None
    intervals: np.ndarray | None = None
    labels: list[str] | None = None
    source: str = ""


def track_name(path: str | Path) -> str:
    """The name that pairs a reference with its estimate: the file name without the
    annotation suffixes (``song.wav.json`` and ``song.jams`` both give ``song``)."""
    name = Path(path).name
    for suffix in (".jams", ".beats", ".txt", ".json", ".csv", ".flac", ".wav", ".mp3", ".ogg", ".m4a"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


def _beats_file(path: Path) -> Annotation:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an empty file is reported below
            table = np.loadtxt(path, comments="#", ndmin=2)
    except ValueError as exc:
        raise InputError(f"{path}: not a beat list ({exc})") from None
    if table.size == 0:
        raise InputError(f"{path}: no beats in the file")
    beats = table[:, 0]
    downbeats = beats[table[:, 1] == 1] if table.shape[1] > 1 else None
    return Annotation(beats=beats, downbeats=downbeats, source=str(path))


def _jams_file(path: Path, data: dict) -> Annotation:
    out = Annotation(source=str(path))
    for ann in data.get("annotations", []):
        namespace, rows = ann.get("namespace"), ann.get("data", [])
        if isinstance(rows, dict):  # JAMS' columnar layout
            rows = [dict(zip(rows, values)) for values in zip(*rows.values())]
        if namespace == "beat" and out.beats is None and rows:
            out.beats = np.array([r["time"] for r in rows], dtype=float)
            positions = [r.get("value") for r in rows]
            if all(isinstance(p, (int, float)) for p in positions):
                out.downbeats = out.beats[np.asarray(positions) == 1]
        elif namespace == "tempo" and out.bpm is None and rows:
            out.bpm = float(max(rows, key=lambda r: r.get("confidence") or 0)["value"])
        elif namespace == "key_mode" and out.key is None and rows:
            out.key = str(rows[0]["value"]).replace(":", " ")
        elif namespace in ("segment_open", "segment_salami_function") and out.intervals is None and rows:
            out.intervals = np.array([[r["time"], r["time"] + r["duration"]] for r in rows], dtype=float)
            out.labels = [str(r["value"]) for r in rows]
    return out


def _result_file(path: Path, data: dict) -> Annotation:
    from ..result import AnalysisResult

    try:
        result = AnalysisResult.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not a songscope/allin1 result ({exc})") from None
    intervals = np.array([[s.start, s.end] for s in result.segments], dtype=float).reshape(-1, 2)
    return Annotation(beats=np.asarray(result.beats, float), downbeats=np.asarray(result.downbeats, float),
                      bpm=result.bpm, key=result.key or result.key_signature, intervals=intervals,
                      labels=[s.label for s in result.segments], source=str(path))


def _manifest(path: Path, rows: list[dict[str, str]]) -> dict[str, Annotation]:
    """A ``songscope synth`` manifest: the annotation file of every track."""
    out = {}
    for row in rows:
        file = path.parent / row["annotation"]
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{path}: annotation {file} is missing") from None
        out[row["track"]] = _result_file(file, data)
    return out


def _key_table(path: Path) -> dict[str, Annotation]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if rows and {"track", "annotation"} <= set(rows[0]):
        return _manifest(path, rows)
    if not rows or "path" not in rows[0] or not ({"key", "key_signature"} & set(rows[0])):
        raise InputError(f"{path}: a key table needs 'path' and 'key' columns")
    out = {}
    for row in rows:
        key = row.get("key") or row.get("key_signature")
        name = track_name(row["path"])
        if name in out:
            raise InputError(f"{path}: two rows for track {name!r} ({out[name].source.split(':')[-1]} and "
                             f"{row['path']}); tracks are paired by file name")
        if key:
            out[name] = Annotation(key=key, source=f"{path}:{row['path']}")
    return out


def read_annotations(path: str | Path) -> dict[str, Annotation]:
    """Annotations in ``path`` (a file, or a folder searched recursively), by track name.

    Raises:
        InputError: missing path, an unreadable file, no annotation found, or two files
            giving the same track name.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    files = sorted((p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES),
                   key=lambda p: (p.with_suffix(""), p.suffix != ".json")) if path.is_dir() else [path]
    out: dict[str, Annotation] = {}
    for file in files:
        suffix = file.suffix.lower()
        if suffix == ".csv":
            found = _key_table(file)
        elif suffix in (".beats", ".txt"):
            found = {track_name(file): _beats_file(file)}
        elif suffix in (".jams", ".json"):
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise InputError(f"{file}: not valid JSON ({exc})") from None
            if not isinstance(data, dict):
                raise InputError(f"{file}: not an annotation")
            reader = _jams_file if "annotations" in data else _result_file
            found = {track_name(file): reader(file, data)}
        else:
            raise InputError(f"{file}: unknown annotation format (use {', '.join(SUFFIXES)})")
        for name, annotation in found.items():
            if name in out and Path(out[name].source).with_suffix("") == file.with_suffix(""):
                continue  # song.json and song.jams side by side (analyze --jams): the JSON is read
            if name in out:
                raise InputError(f"two annotations for track {name!r}: {out[name].source} and {annotation.source}")
            out[name] = annotation
    if not out:
        raise InputError(f"{path}: no annotation files ({', '.join(SUFFIXES)})")
    return out
