"""Decoded training audio on disk: each file decoded once (mono, one sample rate) into a
``.npy`` file that training reads through a memory map, so a corpus of any size streams from
disk instead of sitting in RAM."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..audio.signal import View, decode

__all__ = ["AudioCache"]


class AudioCache:
    """Mono float32 copies of audio files at ``sample_rate`` Hz under ``folder``.

    A copy is keyed by the file's absolute path, size and modification time, so an edited file
    is decoded again; copies are written atomically, so an interrupted run leaves no half file.
    """

    def __init__(self, folder: str | Path, sample_rate: int):
        self.folder, self.sample_rate = Path(folder), int(sample_rate)

    def _name(self, path: Path) -> Path:
        stat = path.stat()
        key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{self.sample_rate}"
        return self.folder / f"{hashlib.sha1(key.encode('utf-8')).hexdigest()}.npy"

    def get(self, path: str | Path) -> np.ndarray:
        """(N,) read-only memory map of ``path`` as mono at the cache's rate (decoded on first use).

        Raises:
            InputError / AudioError: the file cannot be decoded.
        """
        path = Path(path)
        target = self._name(path)
        if not target.exists():
            mono = decode(path, [View(self.sample_rate, 1)]).mono(self.sample_rate)
            with atomic_path(target) as tmp:
                np.save(tmp, mono)
        return np.load(target, mmap_mode="r")
