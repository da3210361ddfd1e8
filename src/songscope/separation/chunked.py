"""Chunked overlap-add separation of a stream of audio blocks in bounded memory.

The signal is cut into windows of ``window`` samples every ``hop`` samples (``hop = window
* (1 - overlap)``); each window is separated on its own; the outputs are cross-faded with a
trapezoid weight (linear fades as long as the overlap) and divided by the summed weights.
The stream starts ``window - hop`` zeros early and ends with zero padding, so every input
sample lies under at least one full-weight region or a fade pair. Memory holds one window
of input and output, whatever the length of the file. A signal no longer than one window
is separated in one call, unpadded (padded at the end only for fixed-window models), so
chunked inference of a short input equals plain inference.
"""

from __future__ import annotations

import itertools
from typing import Callable, Iterable, Iterator

import numpy as np

__all__ = ["chunk_weights", "separate_stream", "separate_array"]

#: (C, window) float32 -> (S, C, window) float32
SeparateFn = Callable[[np.ndarray], np.ndarray]


def chunk_weights(window: int, hop: int) -> np.ndarray:
    """Trapezoid cross-fade weights (window,): rise over ``window - hop`` samples, flat, fall."""
    fade = window - hop
    n = np.arange(window, dtype=np.float64)
    if fade <= 0:
        return np.ones(window, dtype=np.float32)
    return np.minimum(1.0, np.minimum(n + 1, window - n) / (fade + 1)).astype(np.float32)


def separate_stream(separate: SeparateFn, blocks: Iterable[np.ndarray], window: int, hop: int,
                    num_sources: int, fixed_window: bool = False) -> Iterator[np.ndarray]:
    """Separate a stream chunk by chunk.

    Args:
        separate: one window (C, window) -> its sources (S, C, window).
        blocks: the input as (C, n) float32 blocks of any sizes.
        window, hop: chunk length and step (samples), 0 < hop <= window.
        num_sources: S.
        fixed_window: ``separate`` accepts exactly ``window`` samples only.

    Yields:
        (S, C, n) blocks whose concatenation has exactly the input's length.
    """
    if not 0 < hop <= window:
        raise ValueError("need 0 < hop <= window")
    weights = chunk_weights(window, hop)
    lead = window - hop
    buffer: np.ndarray | None = None
    acc = norm = None
    total = emitted = 0
    skip = lead

    def run(chunk: np.ndarray) -> Iterator[np.ndarray]:
        nonlocal acc, norm, emitted, skip
        acc += separate(chunk) * weights
        norm += weights
        out = acc[..., :hop] / norm[:hop]
        acc = np.concatenate([acc[..., hop:], np.zeros_like(acc[..., :hop])], axis=-1)
        norm = np.concatenate([norm[hop:], np.zeros(hop, dtype=np.float32)])
        start = min(skip, hop)
        skip -= start
        out = out[..., start:min(hop, start + total - emitted)]
        emitted += out.shape[-1]
        if out.shape[-1]:
            yield out

    blocks = iter(blocks)
    head: list[np.ndarray] = []
    for block in blocks:
        head.append(np.asarray(block, dtype=np.float32))
        if sum(b.shape[-1] for b in head) > window:
            break
    else:
        if head:
            yield _single_call(separate, np.concatenate(head, axis=-1), window, fixed_window)
        return
    for block in itertools.chain(head, blocks):
        block = np.asarray(block, dtype=np.float32)
        if buffer is None:
            channels = block.shape[0]
            buffer = np.zeros((channels, lead), dtype=np.float32)
            acc = np.zeros((num_sources, channels, window), dtype=np.float32)
            norm = np.zeros(window, dtype=np.float32)
        total += block.shape[-1]
        buffer = np.concatenate([buffer, block], axis=-1)
        while buffer.shape[-1] >= window:
            yield from run(buffer[:, :window])
            buffer = buffer[:, hop:]
    if buffer is None:
        return
    while emitted < total:
        if buffer.shape[-1] < window:
            buffer = np.concatenate([buffer, np.zeros((buffer.shape[0], window - buffer.shape[-1]), np.float32)], -1)
        yield from run(buffer[:, :window])
        buffer = buffer[:, hop:]


def _single_call(separate: SeparateFn, audio: np.ndarray, window: int, fixed_window: bool) -> np.ndarray:
    """A signal of at most one window in one call (padded at the end to ``window`` if fixed)."""
    length = audio.shape[-1]
    if fixed_window and length < window:
        audio = np.pad(audio, ((0, 0), (0, window - length)))
    return separate(audio)[..., :length]


def separate_array(separate: SeparateFn, audio: np.ndarray, window: int, hop: int, num_sources: int,
                   fixed_window: bool = False) -> np.ndarray:
    """:func:`separate_stream` on an in-memory signal (C, N) -> (S, C, N)."""
    parts = list(separate_stream(separate, [audio], window, hop, num_sources, fixed_window))
    return np.concatenate(parts, axis=-1)
