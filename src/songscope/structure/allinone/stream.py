"""The All-In-One front end fed while separation streams: stems arrive chunk by chunk, each
chunk of each stem is turned into mono samples at the network's rate and then straight into
log-spectrogram frames, so a long recording's stems are never held whole (``analyze --demix``
of a 60-minute file keeps (4, 360 000, 81) float32 spectrograms, ~0.47 GB, instead of ~5 GB of
stereo stems).

A frame needs ``window_size`` samples centred on it: :class:`SpectrogramSink` keeps the samples
of the frames not yet computed (at most one window plus a chunk), computes every frame whose
window is complete, and at the end pads with zeros as :func:`~.frontend.log_spectrogram` does,
so the frames equal the one-pass spectrogram of the concatenated stems.

Both sinks follow the separation sink protocol (:func:`songscope.separation.api.write_stems`):
``push({stem: (C, n)})`` per separated chunk, then ``finish()`` -> :class:`~songscope.result.Stems`.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import soxr

from ...conventions import STEMS
from ...errors import InputError
from ...result import Stems
from .config import AllInOneConfig

__all__ = ["MonoStems", "SpectrogramSink", "feature_key"]


def feature_key(cfg: AllInOneConfig) -> str:
    """Name of the spectrogram in :attr:`Stems.features` (the front-end settings that made it)."""
    return (f"allinone.log_spectrogram/{cfg.sample_rate}/{cfg.window_size}/{cfg.hop_size}/{cfg.num_bands}"
            f"/{cfg.fmin}/{cfg.fmax}")


class MonoStems:
    """Sink: the four stems as mono float32 at ``rate_out`` (channel mean, then a soxr HQ stream
    per stem when the rates differ), collected whole (``finish().sources[s]``: (1, N))."""

    def __init__(self, rate_in: int, rate_out: int, model: str = "separated"):
        self.rate_in, self.rate_out, self.model = int(rate_in), int(rate_out), model
        self._streams = {s: soxr.ResampleStream(self.rate_in, self.rate_out, 1, dtype="float32", quality="HQ")
                         for s in STEMS} if self.rate_in != self.rate_out else {}
        self._parts: list[np.ndarray] = []

    def mono(self, sources: Mapping[str, np.ndarray], last: bool = False) -> np.ndarray:
        """(4, n') float32 mono samples of one chunk (``last``: flush the resamplers)."""
        missing = [s for s in STEMS if s not in sources]
        if missing:
            raise InputError(f"the allinone engine needs the stems {', '.join(STEMS)}; {', '.join(missing)} missing")
        mono = [np.atleast_2d(np.asarray(sources[s], dtype=np.float32)).mean(axis=0)
                for s in STEMS]
        if self._streams:
            mono = [self._streams[s].resample_chunk(m, last=last) for s, m in zip(STEMS, mono)]
        length = min(len(m) for m in mono)
        return np.stack([m[:length] for m in mono]).astype(np.float32, copy=False)

    def _tail(self) -> np.ndarray:
        empty = np.zeros((1, 0), np.float32)
        return self.mono({s: empty for s in STEMS}, last=True) if self._streams else np.zeros((4, 0), np.float32)

    def push(self, sources: Mapping[str, np.ndarray]) -> None:
        """Take one separated chunk ({stem: (C, n)} at ``rate_in``)."""
        self._parts.append(self.mono(sources))

    def finish(self) -> Stems:
        """The mono stems, (1, N) each, at ``rate_out``."""
        whole = np.concatenate(self._parts + [self._tail()], axis=-1)
        return Stems({s: whole[i:i + 1] for i, s in enumerate(STEMS)}, self.rate_out, self.model)


class SpectrogramSink(MonoStems):
    """Sink: the four stems' log spectrograms, computed chunk by chunk; ``finish()`` gives
    :class:`~songscope.result.Stems` with no samples and ``features[feature_key(cfg)]`` a
    (4, T, bins) float32 array, T = ceil(N / hop) for N mono samples at ``cfg.sample_rate``."""

    def __init__(self, cfg: AllInOneConfig, rate_in: int, model: str = "separated"):
        super().__init__(rate_in, cfg.sample_rate, model)
        self.cfg = cfg
        self._pending = np.zeros((4, cfg.window_size // 2), np.float32)  # frame 0 is centred on sample 0
        self._samples = 0

    def _frames(self, count: int) -> None:
        import torch

        from .frontend import padded_frames

        if count > 0:
            with torch.no_grad():
                self._parts.append(padded_frames(torch.from_numpy(self._pending), count, self.cfg).numpy())
            self._pending = self._pending[:, count * self.cfg.hop_size:].copy()

    def _take(self, mono: np.ndarray) -> None:
        self._samples += mono.shape[-1]
        self._pending = np.concatenate([self._pending, mono], axis=-1)
        size, hop = self.cfg.window_size, self.cfg.hop_size
        self._frames((self._pending.shape[-1] - size) // hop + 1 if self._pending.shape[-1] >= size else 0)

    def push(self, sources: Mapping[str, np.ndarray]) -> None:
        """Take one separated chunk ({stem: (C, n)} at ``rate_in``) and compute its complete frames."""
        self._take(self.mono(sources))

    def finish(self) -> Stems:
        """The spectrograms of the whole stream (the remaining frames read zeros past the end)."""
        self._take(self._tail())
        size, hop = self.cfg.window_size, self.cfg.hop_size
        total = -(-self._samples // hop)
        done = sum(p.shape[1] for p in self._parts)
        remaining = total - done
        if remaining > 0:
            need = (remaining - 1) * hop + size
            self._pending = np.pad(self._pending, ((0, 0), (0, max(0, need - self._pending.shape[-1]))))
            self._frames(remaining)
        bins = self._parts[0].shape[-1] if self._parts else self.cfg.dim_input
        spectrogram = np.concatenate(self._parts, axis=1) if self._parts else np.zeros((4, 0, bins), np.float32)
        self._parts = []
        return Stems({}, self.rate_out, self.model, {feature_key(self.cfg): spectrogram})
