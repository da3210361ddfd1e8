"""Training data for separation: MUSDB-style folders, read chunk by chunk from disk.

A track is a folder holding ``bass``, ``drums``, ``other`` and ``vocals`` audio files (wav,
flac, ...; ``mixture`` is optional: training mixes are the sum of the stems), as
``songscope synth`` and MUSDB18-HQ lay them out; or a ``*.stem.mp4`` (MUSDB18; streams
mixture, drums, bass, other, vocals), decoded once with ffmpeg into a cache folder.

``ChunkSampler.batch(step)`` is deterministic in (seed, step): random chunks, with source
activity detection, optional remixing of stems across tracks, random gains and channel swaps.
Activity is checked one of two ways (``AugmentConfig.activity``): ``rms`` draws a chunk whose
target is quieter than ``min_activity_db`` again; ``sad`` draws target chunks inside the salient
fragments that the BSRNN recipe's source activity detection picks (``activity.py``, computed
once per track and stem), falling back to ``rms`` for a stem without any.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..conventions import SEEKABLE_SUFFIXES, STEMS
from ..errors import ConfigError, InputError
from .activity import SADConfig, salient_fragments

__all__ = ["Track", "find_tracks", "ChunkSampler", "AugmentConfig"]

_MP4_ORDER = ("mixture", "drums", "bass", "other", "vocals")


@dataclass(frozen=True)
class Track:
    """One multitrack: name, stem -> file, frames and sample rate (equal for all stems)."""

    name: str
    files: dict
    frames: int
    sample_rate: int

    def read(self, stem: str, start: int, length: int) -> np.ndarray:
        """(2, length) float32 samples of ``stem`` from ``start`` (mono files are duplicated)."""
        data, _ = sf.read(str(self.files[stem]), start=start, frames=length, dtype="float32", always_2d=True)
        data = data.T
        if data.shape[0] == 1:
            data = np.repeat(data, 2, axis=0)
        if data.shape[1] < length:
            data = np.pad(data, ((0, 0), (0, length - data.shape[1])))
        return data[:2]


def _stem_files(folder: Path) -> dict[str, Path] | None:
    found = {}
    for stem in STEMS:
        matches = [folder / f"{stem}{ext}" for ext in SEEKABLE_SUFFIXES if (folder / f"{stem}{ext}").is_file()]
        if not matches:
            return None
        found[stem] = matches[0]
    return found


def _decode_stem_mp4(path: Path, cache: Path) -> dict[str, Path]:
    """Streams of a MUSDB ``.stem.mp4`` as wav files in ``cache`` (decoded once)."""
    if shutil.which("ffmpeg") is None:
        raise InputError(f"{path}: reading .stem.mp4 needs ffmpeg on PATH")
    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
    folder = cache / f"{path.name[:-len('.stem.mp4')]}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for index, stem in enumerate(_MP4_ORDER):
        target = folder / f"{stem}.wav"
        if not target.exists():
            tmp = folder / f".{stem}.part.wav"
            result = subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), "-map", f"0:a:{index}",
                                     "-ar", "44100", "-ac", "2", str(tmp)], capture_output=True)
            if result.returncode != 0:
                raise InputError(f"{path}: ffmpeg cannot decode stream {index} ({stem})")
            tmp.replace(target)
        files[stem] = target
    return files


def find_tracks(root: str | Path, cache: str | Path | None = None) -> list[Track]:
    """Every track under ``root`` (folders with the four stems, or ``.stem.mp4`` files).

    Raises:
        InputError: no track found, or stems of one track differ in length or rate.
    """
    root = Path(root)
    if not root.exists():
        raise InputError(f"{root}: no such folder")
    cache = Path(cache) if cache else root / ".stem-cache"
    tracks = []
    for folder in sorted({p.parent for p in root.rglob("*") if p.suffix.lower() in SEEKABLE_SUFFIXES}):
        if cache in folder.parents or folder == cache:
            continue
        files = _stem_files(folder)
        if files:
            tracks.append(_track(folder.name, files))
    for mp4 in sorted(root.rglob("*.stem.mp4")):
        tracks.append(_track(mp4.name[:-len(".stem.mp4")], _decode_stem_mp4(mp4, cache)))
    if not tracks:
        raise InputError(f"{root}: no multitrack found (folders with {', '.join(STEMS)} audio, or .stem.mp4 files)")
    return tracks


def _track(name: str, files: dict[str, Path]) -> Track:
    infos = {stem: sf.info(str(path)) for stem, path in files.items()}
    frames = {i.frames for i in infos.values()}
    rates = {i.samplerate for i in infos.values()}
    if len(rates) != 1:
        raise InputError(f"{name}: stems have different sample rates")
    return Track(name, {s: files[s] for s in STEMS}, min(frames), rates.pop())


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation of training chunks.

    Attributes:
        remix: probability that an example takes each stem from a random track (else one track).
        gain: range of the random gain per stem (linear).
        channel_swap: probability of swapping left and right per stem.
        min_activity_db: a target chunk quieter than this (RMS, dBFS) is drawn again.
        activity_tries: draws before accepting a quiet chunk.
        activity: "rms" (the check above) or "sad" (chunks inside salient fragments, the BSRNN recipe).
    """

    remix: float = 0.5
    gain: tuple[float, float] = (0.25, 1.25)
    channel_swap: float = 0.5
    min_activity_db: float = -50.0
    activity_tries: int = 10
    activity: str = "rms"

    def __post_init__(self) -> None:
        if self.activity not in ("rms", "sad"):
            raise ConfigError(f"activity must be rms or sad, not {self.activity!r}")


class ChunkSampler:
    """Random training chunks of a list of tracks.

    Args:
        tracks: the multitracks. targets: stems the model estimates. length: chunk samples.
        batch_size: examples per batch. seed: base seed. augment: None for plain chunks
            (validation), else :class:`AugmentConfig`.
    """

    def __init__(self, tracks: list[Track], targets: tuple[str, ...], length: int, batch_size: int,
                 seed: int, augment: AugmentConfig | None = AugmentConfig()):
        rates = {t.sample_rate for t in tracks}
        if len(rates) != 1:
            raise InputError(f"training tracks mix sample rates {sorted(rates)}; resample them first")
        usable = [t for t in tracks if t.frames >= length]
        if not usable:
            raise InputError(f"no track is as long as a training chunk ({length / rates.pop():.1f} s)")
        self.tracks, self.targets, self.length = usable, tuple(targets), length
        self.batch_size, self.seed, self.augment = batch_size, seed, augment
        self.sample_rate = usable[0].sample_rate
        self.sad = SADConfig()
        self._salient: dict[tuple[str, str], set[int]] = {}

    def salient_starts(self, track: Track, stem: str) -> set[int]:
        """Start samples of the salient fragments of ``stem`` in ``track`` (computed once)."""
        key = (track.name, str(track.files[stem]))
        if key not in self._salient:
            wave = track.read(stem, 0, track.frames)
            self._salient[key] = set(salient_fragments(wave, track.sample_rate, self.sad).tolist())
        return self._salient[key]

    def _salient_start(self, rng: np.random.Generator, track: Track, stems: list[str]) -> int | None:
        """A chunk start inside a fragment salient for every one of ``stems``; None without such a
        fragment, or when activity is checked by RMS."""
        if self.augment is None or self.augment.activity != "sad" or not stems:
            return None
        common = sorted(set.intersection(*(self.salient_starts(track, stem) for stem in stems)))
        if not common:
            return None
        fragment = common[int(rng.integers(len(common)))]
        room = max(0, self.sad.window(track.sample_rate)[0] - self.length)
        return min(fragment + int(rng.integers(0, room + 1)), track.frames - self.length)

    def _active(self, chunk: np.ndarray) -> bool:
        rms = float(np.sqrt(np.mean(chunk ** 2)) + 1e-12)
        return 20 * np.log10(rms) > self.augment.min_activity_db

    def _stem_chunk(self, rng: np.random.Generator, track: Track, stem: str) -> np.ndarray:
        start = self._salient_start(rng, track, [stem] if stem in self.targets else [])
        if start is not None:
            return track.read(stem, start, self.length)
        tries = self.augment.activity_tries if self.augment and stem in self.targets else 1
        for _ in range(tries):
            start = int(rng.integers(0, track.frames - self.length + 1))
            chunk = track.read(stem, start, self.length)
            if self.augment is None or stem not in self.targets or self._active(chunk):
                break
        return chunk

    def example(self, rng: np.random.Generator) -> np.ndarray:
        """(4, 2, length) stems of one example, in :data:`STEMS` order."""
        aug = self.augment
        if aug is not None and rng.random() < aug.remix:
            picks = [self.tracks[int(rng.integers(len(self.tracks)))] for _ in STEMS]
            stems = [self._stem_chunk(rng, track, stem) for track, stem in zip(picks, STEMS)]
        else:
            track = self.tracks[int(rng.integers(len(self.tracks)))]
            salient = self._salient_start(rng, track, list(self.targets))
            if salient is not None:
                stems = [track.read(stem, salient, self.length) for stem in STEMS]
            for _ in range(0 if salient is not None else aug.activity_tries if aug else 1):
                start = int(rng.integers(0, track.frames - self.length + 1))
                stems = [track.read(stem, start, self.length) for stem in STEMS]
                if aug is None or all(self._active(stems[STEMS.index(t)]) for t in self.targets):
                    break
        if aug is not None:
            for i, stem in enumerate(stems):
                stem *= rng.uniform(*aug.gain)
                if rng.random() < aug.channel_swap:
                    stems[i] = stem[::-1].copy()
        return np.stack(stems)

    def batch(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """``(mixture (B, 2, N), targets (B, S, 2, N))`` for ``step``, read from disk."""
        rng = np.random.default_rng([self.seed, step])
        examples = np.stack([self.example(rng) for _ in range(self.batch_size)])
        index = [STEMS.index(t) for t in self.targets]
        return examples.sum(axis=1), examples[:, index]

    __getitem__ = batch
