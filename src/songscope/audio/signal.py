"""A decoded recording as the engines read it: one decoding pass gives every form (sample
rate, channels) that the engines of a run asked for, and a form nobody asked for in advance
is derived from one already in memory, never by decoding again.

A form is a :class:`View`: ``View(22050, 1)`` is mono at 22.05 kHz (the channel mean),
``View(44100, 2)`` stereo at 44.1 kHz (mono duplicated, more channels folded),
``View(None, None)`` the file's own rate and channels (more than two folded to stereo).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import soxr

from ..errors import AudioError
from ..result import Stems
from .decode import AudioInfo, iter_blocks

__all__ = ["Audio", "View", "decode", "fit_channels", "load", "load_mono"]

_QUALITY = "HQ"


@dataclass(frozen=True)
class View:
    """A form of the audio: ``sample_rate`` in Hz (None: the file's own) and ``channels``
    (1: mono, 2: stereo, None: the file's own, more than two folded to stereo)."""

    sample_rate: int | None = None
    channels: int | None = None


def fit_channels(block: np.ndarray, channels: int | None) -> np.ndarray:
    """(C, n) -> (channels, n): the channel mean for mono, mono duplicated for stereo, more
    than two channels folded to stereo (odd channels left, even channels right)."""
    if channels == 1:
        return block.mean(axis=0, keepdims=True) if block.shape[0] > 1 else block
    if block.shape[0] > 2:
        block = np.stack([block[0::2].mean(axis=0), block[1::2].mean(axis=0)])
    if channels == 2 and block.shape[0] == 1:
        return np.repeat(block, 2, axis=0)
    return block


def _resample(data: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """(C, n) at ``rate_in`` -> (C, n') float32 at ``rate_out``."""
    if rate_in == rate_out:
        return data
    out = soxr.resample(np.ascontiguousarray(data.T), rate_in, rate_out, quality=_QUALITY)
    return np.ascontiguousarray(np.atleast_2d(out.T), dtype=np.float32)


class Audio:
    """One recording in the forms the engines read, plus stems once separated.

    Attributes:
        info: what the source holds (its path, rate, channels and frames; decoder ``"array"``
            for samples given in memory).
        stems: the separated stems (``analyze --demix``), else None.
    """

    def __init__(self, views: dict[View, np.ndarray], info: AudioInfo, stems: Stems | None = None):
        self._views = dict(views)
        self.info, self.stems = info, stems

    @property
    def path(self) -> Path | None:
        """The decoded file, None for samples given in memory."""
        return None if self.info.decoder == "array" else self.info.path

    @property
    def source_rate(self) -> int:
        return self.info.sample_rate

    @property
    def source_channels(self) -> int:
        return self.info.channels

    @classmethod
    def from_array(cls, samples: np.ndarray, sample_rate: int, path: Path | None = None) -> "Audio":
        """Wrap samples (N,) or (channels, N) at ``sample_rate`` Hz.

        Raises:
            AudioError: empty, or NaN / infinite samples.
        """
        data = np.atleast_2d(np.asarray(samples, dtype=np.float32))
        if data.ndim != 2 or data.shape[-1] == 0:
            raise AudioError("expected samples shaped (N,) or (channels, N), not empty")
        if not np.all(np.isfinite(data)):
            raise AudioError(f"{path or 'signal'}: contains NaN or infinite samples")
        info = AudioInfo(Path(path or "<array>"), int(sample_rate), data.shape[0], data.shape[1], "array")
        return cls({View(int(sample_rate), None): fit_channels(data, None)}, info)

    def _resolve(self, view: View) -> View:
        return View(self.source_rate if view.sample_rate is None else int(view.sample_rate), view.channels)

    def get(self, sample_rate: int | None = None, channels: int | None = None) -> np.ndarray:
        """(channels, N) float32 samples in the asked form, derived (and kept) when not decoded so."""
        view = self._resolve(View(sample_rate, channels))
        if view not in self._views:
            needed = 1 if view.channels == 1 else (view.channels or min(self.source_channels, 2))
            base_view, base = max(self._views.items(),
                                  key=lambda item: (item[1].shape[0] >= needed, item[0].sample_rate))
            self._views[view] = _resample(fit_channels(base, view.channels), base_view.sample_rate, view.sample_rate)
        return self._views[view]

    def mono(self, sample_rate: int | None = None) -> np.ndarray:
        """(N,) float32 mono samples at ``sample_rate`` (None: the source rate)."""
        return self.get(sample_rate, 1)[0]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        view, data = next(iter(self._views.items()))
        return data.shape[-1] / float(view.sample_rate)

    def with_stems(self, stems: Stems) -> "Audio":
        """The same recording with its separated stems attached."""
        return Audio(self._views, self.info, stems)


def decode(path: str | Path, views: Iterable[View] = (View(),)) -> Audio:
    """Decode ``path`` once, streaming, into every form in ``views`` (each resampled by its own
    soxr stream, so memory holds the outputs only, never the file's original samples unless
    ``View()`` asks for them).

    Raises:
        InputError / AudioError: missing, unreadable, empty, or non-finite audio.
    """
    meta, blocks = iter_blocks(path)
    wanted = {View(meta.sample_rate if v.sample_rate is None else int(v.sample_rate), v.channels) for v in views}
    wanted = wanted or {View(meta.sample_rate, None)}
    parts: dict[View, list[np.ndarray]] = {v: [] for v in wanted}
    streams: dict[View, soxr.ResampleStream] = {}
    for block in blocks:
        for view in wanted:
            # mono travels as (n,) and more channels as (n, C): the layouts soxr reads fastest
            data = fit_channels(block, view.channels)
            data = data[0] if view.channels == 1 else np.ascontiguousarray(data.T)
            if view.sample_rate != meta.sample_rate:
                if view not in streams:
                    streams[view] = soxr.ResampleStream(meta.sample_rate, view.sample_rate,
                                                        1 if data.ndim == 1 else data.shape[1], dtype="float32",
                                                        quality=_QUALITY)
                data = streams[view].resample_chunk(data)
            parts[view].append(data)
    for view, stream in streams.items():
        shape = (0,) if view.channels == 1 else (0, parts[view][0].shape[1] if parts[view] else 1)
        parts[view].append(stream.resample_chunk(np.zeros(shape, np.float32), last=True))
    arrays = {}
    for view, pieces in parts.items():
        joined = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        arrays[view] = np.ascontiguousarray(np.atleast_2d(joined if joined.ndim == 1 else joined.T), dtype=np.float32)
        if arrays[view].shape[-1] == 0:
            raise AudioError(f"{meta.path}: holds no audio frames")
        if not np.all(np.isfinite(arrays[view])):
            raise AudioError(f"{meta.path}: contains NaN or infinite samples")
    return Audio(arrays, meta)


def load(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode a whole file: ``(samples (channels, N) float32, sample rate)``, resampled to
    ``sample_rate`` Hz when given (more than two channels are folded to stereo)."""
    audio = decode(path, [View(sample_rate, None)])
    return audio.get(sample_rate), sample_rate or audio.source_rate


def load_mono(path: str | Path, sample_rate: int) -> tuple[np.ndarray, AudioInfo]:
    """Decode, downmix (channel mean) and resample to ``sample_rate`` in bounded memory:
    ``(mono (N,) float32, info of the file)``."""
    audio = decode(path, [View(sample_rate, 1)])
    return audio.mono(sample_rate), audio.info
