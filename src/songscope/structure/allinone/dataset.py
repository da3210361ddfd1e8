"""Training data of the All-In-One network: annotated tracks in three layouts, their stems and
spectrograms cached per track, folds split by track, and the crop sampler the loop reads.

Layouts (:func:`find_structure_tracks` tells them apart):

- **Harmonix Set**: ``ROOT/beats_and_downbeats/<id>.txt`` (or ``ROOT/beats/``; ``time beat
  [bar]`` per line, beat 1 = downbeat) and ``ROOT/segments/<id>.txt`` (``time label`` per line,
  the last ``end``), as published; the audio you supply anywhere under ``ROOT`` as
  ``<id>.<ext>`` (any audio ending);
- a **``songscope synth`` corpus**: ``ROOT/manifest.csv``; its ``train`` split (the ``test`` split
  is left for evaluation), each track with its rendered stems;
- **any folder of audio with JAMS**: every audio file with a ``<name>.jams`` beside it (beat
  namespace required; ``segment_open`` sections optional).

Stems: the ones the corpus ships (``demix = "reference"``, where it has them) or a separation
model's (``"classic"``, the default, a name or a checkpoint), demixed once per track exactly as
``analyze --demix`` demixes (same separator, same blocks, same downmix), so the network trains
on the stems it will read, and kept with the spectrograms in the cache folder (``spec_dir``).
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ...atomic import atomic_path, write_text
from ...audio.signal import View, decode, load_mono
from ...conventions import AUDIO_SUFFIXES, STEMS
from ...errors import InputError
from ...evaluate.annotations import Annotation, read_annotations
from ...train.augment import MasteringChain, master
from .config import AllInOneConfig
from .targets import StructureTargets, structure_targets

__all__ = ["SpectrogramCache", "StructureCrops", "StructureTrack", "assign_folds", "find_structure_tracks",
           "read_harmonix_beats", "read_harmonix_segments"]


@dataclass
class StructureTrack:
    """One annotated recording.

    Attributes:
        name: unique track name (folds split by it). audio: the mixture file.
        stems: stem -> file where the corpus has them, else None.
        beats, downbeats: times (s). boundaries: section starts plus the final end (s), or None.
        labels: one raw section name per section, or None.
    """

    name: str
    audio: Path
    stems: dict[str, Path] | None
    beats: np.ndarray
    downbeats: np.ndarray
    boundaries: np.ndarray | None = None
    labels: list[str] | None = None

    def targets(self, frames: int, fps: float) -> StructureTargets:
        """allin1's targets of this track over ``frames`` frames."""
        return structure_targets(frames, fps, self.beats, self.downbeats, self.boundaries, self.labels)


def read_harmonix_beats(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(beats, downbeats) times of a Harmonix ``beats_and_downbeats`` file."""
    try:
        table = np.loadtxt(path, ndmin=2)
    except ValueError as exc:
        raise InputError(f"{path}: not a Harmonix beat file ({exc})") from None
    if table.shape[0] == 0 or table.shape[1] < 2:
        raise InputError(f"{path}: expected 'time beat' rows")
    return table[:, 0], table[table[:, 1] == 1, 0]


def read_harmonix_segments(path: Path) -> tuple[np.ndarray, list[str]]:
    """(boundaries, labels) of a Harmonix ``segments`` file: n + 1 times and n section names
    (the last row, ``end``, closes the last section)."""
    rows = [line.split(None, 1) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        times = np.array([float(r[0]) for r in rows])
    except ValueError:
        raise InputError(f"{path}: not a Harmonix segment file ('time label' rows)") from None
    if len(rows) < 2 or any(len(r) < 2 for r in rows):
        raise InputError(f"{path}: expected at least two 'time label' rows")
    return times, [r[1].strip() for r in rows[:-1]]


def _harmonix(root: Path) -> list[StructureTrack]:
    beat_dir = root / "beats_and_downbeats" if (root / "beats_and_downbeats").is_dir() else root / "beats"
    audio = {p.stem: p for p in sorted(root.rglob("*")) if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()}
    tracks = []
    for beat_file in sorted(beat_dir.glob("*.txt")):
        name = beat_file.stem
        segment_file = root / "segments" / f"{name}.txt"
        if name not in audio or not segment_file.is_file():
            continue
        beats, downbeats = read_harmonix_beats(beat_file)
        boundaries, labels = read_harmonix_segments(segment_file)
        tracks.append(StructureTrack(name, audio[name], None, beats, downbeats, boundaries, labels))
    return tracks


def _stems_beside(mixture: Path) -> dict[str, Path] | None:
    files = {s: next((p for p in sorted(mixture.parent.glob(f"{s}.*")) if p.suffix.lower() in AUDIO_SUFFIXES), None)
             for s in STEMS}
    return None if None in files.values() else files


def _from_annotation(name: str, audio: Path, annotation: Annotation, stems: dict[str, Path] | None) -> StructureTrack:
    if annotation.beats is None or len(annotation.beats) == 0:
        raise InputError(f"{annotation.source}: no beats to train on")
    downbeats = annotation.downbeats if annotation.downbeats is not None else np.empty(0)
    boundaries = labels = None
    if annotation.intervals is not None and len(annotation.intervals):
        boundaries = np.append(annotation.intervals[:, 0], annotation.intervals[-1, 1])
        labels = list(annotation.labels)
    return StructureTrack(name, audio, stems, np.asarray(annotation.beats, float), np.asarray(downbeats, float),
                          boundaries, labels)


def _synth(root: Path) -> list[StructureTrack]:
    with open(root / "manifest.csv", newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("split", "train") != "test"]
    tracks = []
    for row in rows:
        try:
            mixture, annotation = root / row["mixture"], root / row["annotation"]
            found = read_annotations(annotation)
        except KeyError as exc:
            raise InputError(f"{root / 'manifest.csv'}: no column {exc}; not a songscope synth manifest") from None
        tracks.append(_from_annotation(row["track"], mixture, next(iter(found.values())), _stems_beside(mixture)))
    return tracks


def _jams(root: Path) -> list[StructureTrack]:
    tracks = []
    for jams in sorted(root.rglob("*.jams")):
        audio = next((p for p in sorted(jams.parent.glob(f"{jams.stem}.*")) if p.suffix.lower() in AUDIO_SUFFIXES),
                     None)
        if audio is not None:
            tracks.append(_from_annotation(jams.stem, audio, read_annotations(jams)[jams.stem], None))
    return tracks


def find_structure_tracks(root: str | Path) -> list[StructureTrack]:
    """The annotated tracks under ``root`` (see the module docstring for the layouts).

    Raises:
        InputError: no such folder, no annotated track, or two tracks of the same name.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder")
    if (root / "segments").is_dir() and ((root / "beats_and_downbeats").is_dir() or (root / "beats").is_dir()):
        tracks, layout = _harmonix(root), "Harmonix Set (beats_and_downbeats/, segments/ and <id>.<audio>)"
    elif (root / "manifest.csv").is_file():
        tracks, layout = _synth(root), "songscope synth corpus (train split)"
    else:
        tracks, layout = _jams(root), "audio files with <name>.jams beside them"
    if not tracks:
        raise InputError(f"{root}: no annotated track found (read as {layout})")
    names = [t.name for t in tracks]
    if len(set(names)) != len(names):
        raise InputError(f"{root}: two tracks named {next(n for n in names if names.count(n) > 1)!r}")
    return tracks


def assign_folds(names: list[str], folds: int, seed: int = 0) -> dict[str, int]:
    """Track name -> fold in ``0 .. folds - 1``: a seeded shuffle of the sorted names dealt out
    in turn, so folds differ in size by at most one track and never share one."""
    order = sorted(names)
    permutation = np.random.default_rng([seed, 8]).permutation(len(order))
    return {order[p]: i % folds for i, p in enumerate(permutation)}


class SpectrogramCache:
    """Per track, the four mono stems at the network's rate (``<key>.stems.npy``, (4, N) float16)
    and their log spectrograms (``<key>.spec.npy``, (4, T, bins) float16) in ``folder``, computed once.

    The key hashes the mixture's path, size and modification time, the stems' source and the
    front-end settings; files are written atomically.
    """

    def __init__(self, folder: str | Path, cfg: AllInOneConfig, demix: str, device: str | None = None):
        self.folder, self.cfg, self.demix, self.device = Path(folder), cfg, demix, device
        self.separator = "classic" if demix == "reference" else demix
        self.folder.mkdir(parents=True, exist_ok=True)

    def _key(self, track: StructureTrack) -> str:
        stat = track.audio.stat()
        source = "reference" if self.demix == "reference" and track.stems else f"{self.separator}|analyze-demix"
        front = (self.cfg.sample_rate, self.cfg.window_size, self.cfg.hop_size, self.cfg.num_bands, self.cfg.fmin,
                 self.cfg.fmax)
        text = f"{track.audio.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{source}|{front}"
        return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]

    def _demixed(self, track: StructureTrack) -> np.ndarray:
        """(4, N) float16 mono stems: the corpus's own (``reference``), or the separator's as
        ``analyze --demix`` runs it (the file decoded at the separator's rate and channels,
        streamed through it in the same blocks, each stem's channel mean at the network's rate)."""
        rate = self.cfg.sample_rate
        if self.demix == "reference" and track.stems:
            mono = [load_mono(track.stems[s], rate)[0] for s in STEMS]
            length = min(len(m) for m in mono)
            return np.stack([m[:length] for m in mono]).astype(np.float16)
        from ...separation.api import load_separator, separate_into
        from .stream import MonoStems

        separator = load_separator(self.separator, self.device)
        mixture = decode(track.audio, [View(separator.sample_rate, separator.channels)])
        stems = separate_into(mixture.get(separator.sample_rate, separator.channels), separator,
                              MonoStems(separator.sample_rate, rate, separator.name), name=track.name)
        return np.concatenate([stems.sources[s] for s in STEMS]).astype(np.float16)

    def stems(self, track: StructureTrack) -> np.ndarray:
        """(4, N) float16 read-only memory map of the track's mono stems at the network's rate."""
        path = self.folder / f"{self._key(track)}.stems.npy"
        if not path.exists():
            stems = self._demixed(track)
            with atomic_path(path) as tmp:
                np.save(tmp, stems)
        return np.load(path, mmap_mode="r")

    def spectrogram(self, track: StructureTrack) -> np.ndarray:
        """(4, T, bins) float16 read-only memory map of the stems' log spectrograms."""
        path = self.folder / f"{self._key(track)}.spec.npy"
        if not path.exists():
            spec = spectrogram_of(np.asarray(self.stems(track), dtype=np.float32), self.cfg)
            with atomic_path(path) as tmp:
                np.save(tmp, spec.astype(np.float16))
            write_text(self.folder / f"{self._key(track)}.json", json.dumps({"track": track.name,
                                                                              "audio": str(track.audio)}))
        return np.load(path, mmap_mode="r")


def spectrogram_of(stems: np.ndarray, cfg: AllInOneConfig) -> np.ndarray:
    """(4, T, bins) float32 log spectrograms of (4, N) mono stems (the network's front end)."""
    import torch

    from .frontend import log_spectrogram

    with torch.no_grad():
        return log_spectrogram(torch.from_numpy(np.ascontiguousarray(stems, dtype=np.float32)), cfg).numpy()


class StructureCrops:
    """The loop's batches: ``crops[i]`` is batch ``i``, ``batch_size`` random crops of
    ``frames`` frames from random training tracks, deterministic in (seed, i).

    A crop is augmented (its stems through ``chain``, then the front end again) with the
    chain's probability; otherwise its cached spectrogram is read.
    """

    def __init__(self, tracks: list[StructureTrack], cache: SpectrogramCache, frames: int, batch_size: int,
                 seed: int, chain: MasteringChain | None):
        self.tracks, self.cache, self.frames, self.batch_size = tracks, cache, frames, batch_size
        self.seed, self.chain = seed, chain
        cfg = cache.cfg
        self.specs = [cache.spectrogram(t) for t in tracks]
        self.targets = [t.targets(s.shape[1], cfg.fps) for t, s in zip(tracks, self.specs)]

    def _crop(self, rng: np.random.Generator) -> tuple[np.ndarray, StructureTargets]:
        index = int(rng.integers(len(self.tracks)))
        spec, cfg = self.specs[index], self.cache.cfg
        start = int(rng.integers(0, max(0, spec.shape[1] - self.frames) + 1))
        targets = self.targets[index].crop(start, self.frames)
        if self.chain is not None and rng.random() < self.chain.probability:
            stems = np.asarray(self.cache.stems(self.tracks[index]), dtype=np.float32)
            hop = cfg.hop_size
            piece = stems[:, start * hop:(start + self.frames) * hop]
            part = spectrogram_of(master(piece, cfg.sample_rate, replace(self.chain, probability=1.0), rng), cfg)
        else:
            part = np.asarray(spec[:, start:start + self.frames], dtype=np.float32)
        if part.shape[1] < self.frames:
            part = np.pad(part, ((0, 0), (0, self.frames - part.shape[1]), (0, 0)))
        return part[:, :self.frames], targets

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        rng = np.random.default_rng([self.seed, index])
        crops = [self._crop(rng) for _ in range(self.batch_size)]
        return {"spec": torch.from_numpy(np.stack([c[0] for c in crops])),
                **{name: torch.from_numpy(np.stack([getattr(c[1], name) for c in crops]))
                   for name in ("beat", "downbeat", "section", "function")},
                "has_sections": torch.tensor([c[1].has_sections for c in crops], dtype=torch.float32)}
