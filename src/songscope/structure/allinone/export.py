"""All-In-One models to ONNX, and chunked inference for recordings of any length.

The neighbourhood-attention windows depend on the number of frames, so an exported graph has
a fixed length: ``frames`` frames of the (1, 4, frames, 81) spectrogram in, the four logits and
the embeddings out. Longer recordings go through it (or through the torch model) chunk by
chunk (:func:`chunked_logits`): chunks of ``frames`` frames overlapping by ``overlap`` frames,
each chunk's outer ``overlap / 2`` frames dropped where a neighbour covers them, so memory stays
bounded by the chunk and the result is continuous.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ...atomic import atomic_path
from ...errors import ConfigError
from .attention import clear_window_cache
from .model import AllInOne

__all__ = ["OUTPUTS", "chunk_spans", "chunked_logits", "export_onnx"]

#: Names of the exported graph's outputs, in order.
OUTPUTS = ("beat", "downbeat", "section", "function", "embeddings")


class _Outputs(torch.nn.Module):
    """The model with its outputs as a tuple (what ONNX export traces)."""

    def __init__(self, model: AllInOne):
        super().__init__()
        self.model = model

    def forward(self, spectrogram: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(spectrogram)
        return tuple(getattr(out, name) for name in OUTPUTS)


def export_onnx(model: AllInOne, path: str | Path, frames: int = 6000, opset: int = 18) -> Path:
    """Write ``model`` (eval mode) as an ONNX graph of fixed input (1, stems, ``frames``, bins).

    Outputs: :data:`OUTPUTS`: (1, frames) beat, downbeat and section logits, (1, 10, frames)
    function logits, (1, stems, frames, dim_embed) embeddings.

    Raises:
        ConfigError: onnx is not installed, or ``frames`` < 1.
    """
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError:
        raise ConfigError("ONNX export needs onnx: pip install 'songscope[onnx]'") from None
    if frames < 1:
        raise ConfigError("frames must be at least 1")
    cfg = model.cfg
    example = torch.zeros(1, cfg.num_instruments, int(frames), cfg.dim_input)
    wrapper = _Outputs(model.eval())
    clear_window_cache()  # the exporter traces with fake tensors: keep none of them in the window cache
    with atomic_path(path) as tmp, torch.no_grad():
        torch.onnx.export(wrapper, (example,), str(tmp), input_names=["spectrogram"], output_names=list(OUTPUTS),
                          opset_version=opset, dynamo=True, verbose=False)
    clear_window_cache()
    return Path(path)


def chunk_spans(total: int, frames: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """How :func:`chunked_logits` covers ``total`` frames: ``(start, stop, keep_from, keep_to)``
    per chunk: the chunk reads ``start .. stop - 1`` and supplies ``keep_from .. keep_to - 1``
    (absolute frames); the kept parts tile ``0 .. total - 1`` exactly once.

    Raises:
        ConfigError: ``overlap`` not in ``[0, frames)``, or ``frames`` < 1.
    """
    if frames < 1 or not 0 <= overlap < frames:
        raise ConfigError(f"chunks of {frames} frames need 0 <= overlap < frames, not {overlap}")
    if total <= frames:
        return [(0, total, 0, total)]
    step = frames - overlap
    starts = list(range(0, total - frames, step)) + [total - frames]
    spans = []
    for i, start in enumerate(starts):
        keep_from = 0 if i == 0 else spans[-1][3]
        keep_to = total if i == len(starts) - 1 else (starts[i + 1] + start + frames) // 2  # mid-overlap
        spans.append((start, start + frames, keep_from, keep_to))
    return spans


def chunked_logits(run: Callable[[np.ndarray], tuple[np.ndarray, ...]], spectrogram: np.ndarray, frames: int,
                   overlap: int) -> tuple[np.ndarray, ...]:
    """The outputs of ``run`` over a long spectrogram, in overlapping chunks.

    Args:
        run: (1, stems, n, bins) float32 -> :data:`OUTPUTS` arrays with frames on their last
            axis (embeddings: on axis 2); ``n`` is ``frames`` (or the whole length when shorter).
        spectrogram: (stems, T, bins) (a memory map is fine: chunks are read one at a time).
        frames, overlap: chunk length and overlap (frames).

    Returns:
        :data:`OUTPUTS` for the whole recording, batch axis dropped: (T,), (T,), (T,), (10, T),
        (stems, T, dim).
    """
    total = spectrogram.shape[1]
    outputs: list[np.ndarray] | None = None
    for start, stop, keep_from, keep_to in chunk_spans(total, frames, overlap):
        chunk = np.ascontiguousarray(spectrogram[None, :, start:stop], dtype=np.float32)
        parts = [np.asarray(p)[0] for p in run(chunk)]
        if outputs is None:
            outputs = [np.zeros(p.shape[:-1] + (total,), np.float32) if p.ndim < 3 else
                       np.zeros((p.shape[0], total, p.shape[2]), np.float32) for p in parts]
        lo, hi = keep_from - start, keep_to - start
        for out, part in zip(outputs, parts):
            if part.ndim == 3:
                out[:, keep_from:keep_to] = part[:, lo:hi]
            else:
                out[..., keep_from:keep_to] = part[..., lo:hi]
    return tuple(outputs)
