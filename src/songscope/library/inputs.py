"""Turning user paths into a list of audio files and unique output names.

A folder holding a ``mixture`` file next to stem files (``bass``, ``drums``, ``other``,
``vocals``, ...: the MUSDB layout that ``songscope synth`` and MUSDB18-HQ use) is one track:
only its mixture is taken from a folder search, and the track is named after the folder.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Iterable

from ..conventions import AUDIO_SUFFIXES, STEMS
from ..errors import InputError

__all__ = ["expand_inputs", "output_stems", "track_name"]

_MIXTURE = "mixture"
_STEM_NAMES = frozenset((*STEMS, "accompaniment", _MIXTURE))


def _audio(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES and not path.name.startswith(".")


def _is_multitrack(folder: Path) -> bool:
    """True for a folder holding a ``mixture`` audio file (a MUSDB-style track)."""
    return any(_audio(p) and p.stem.lower() == _MIXTURE for p in folder.glob(f"{_MIXTURE}.*"))


def track_name(path: Path) -> str:
    """A track's name: its folder's for the mixture of a MUSDB-style folder, else the file stem."""
    if path.stem.lower() == _MIXTURE and _is_multitrack(path.parent):
        return path.resolve().parent.name
    return path.stem


def expand_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus audio files found recursively in named folders (of a
    MUSDB-style track folder, only the mixture).

    Raises:
        InputError: a path does not exist, or a folder holds no audio file.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
        if path.is_dir():
            multitrack = {folder for folder in (path, *path.rglob("*")) if folder.is_dir() and _is_multitrack(folder)}
            found = sorted(p for p in path.rglob("*") if _audio(p) and not (
                p.parent in multitrack and p.stem.lower() in _STEM_NAMES and p.stem.lower() != _MIXTURE))
            if not found:
                raise InputError(f"{path}: no audio files found (looked for {', '.join(sorted(AUDIO_SUFFIXES))})")
            out.extend(found)
        else:
            out.append(path)
    seen: set[Path] = set()
    unique = []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def output_stems(files: list[Path]) -> dict[Path, str]:
    """Output base name per file: its :func:`track_name`, or ``name.<8 hex of its folder>`` when
    two files of the batch share a name, so that no output overwrites another."""
    base = {f: track_name(f) for f in files}
    counts = Counter(base.values())
    names = {}
    for f in files:
        if counts[base[f]] == 1:
            names[f] = base[f]
        else:
            digest = hashlib.sha1(str(f.resolve().parent).encode("utf-8")).hexdigest()[:8]
            names[f] = f"{base[f]}.{digest}"
    return names
