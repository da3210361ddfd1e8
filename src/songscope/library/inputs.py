"""Turning user paths into a list of audio files and unique output names."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Iterable

from ..conventions import AUDIO_SUFFIXES
from ..errors import InputError

__all__ = ["expand_inputs", "output_stems"]

def expand_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus audio files found recursively in named folders.

    Raises:
        InputError: a path does not exist, or a folder holds no audio file.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
        if path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES and not p.name.startswith("."))
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
    """Output base name per file: its stem, or ``stem.<8 hex of its folder>`` when two
    files of the batch share a stem, so that no output overwrites another."""
    counts = Counter(f.stem for f in files)
    names = {}
    for f in files:
        if counts[f.stem] == 1:
            names[f] = f.stem
        else:
            digest = hashlib.sha1(str(f.resolve().parent).encode("utf-8")).hexdigest()[:8]
            names[f] = f"{f.stem}.{digest}"
    return names
