"""Reading any model file songscope accepts into a :class:`~songscope.models.container.Checkpoint`.

songscope's own container is read as it is; every other layout comes in through a converter
here: official STONE checkpoints, Lightning checkpoints of the public Band-Split RNN code,
CoverHunterMPS generator checkpoints, allin1's All-In-One checkpoints, and the formats songscope 0.1
wrote. A converter says what it could not carry over (``Checkpoint.notes``); ``songscope models
convert`` prints that and writes a container.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ...errors import CheckpointError
from ..catalog import ModelEntry
from ..container import Checkpoint, is_container, safe_load
from . import allinone, bsrnn_lightning, coverhunter, legacy, stone

__all__ = ["CONVERTERS", "Converter", "read_checkpoint"]


@dataclass(frozen=True)
class Converter:
    """A foreign checkpoint layout.

    Attributes:
        name: short name. description: what files it reads.
        detect: ``(payload, path) -> bool``, True for files of this layout.
        convert: ``(payload, path, catalog entry or None) -> Checkpoint``.
    """

    name: str
    description: str
    detect: Callable[[dict[str, Any], Path], bool]
    convert: Callable[[dict[str, Any], Path, ModelEntry | None], Checkpoint]


CONVERTERS: tuple[Converter, ...] = (
    Converter("stone", "official STONE / 24-STONE checkpoints (github.com/deezer/stone)", stone.detect, stone.convert),
    Converter("bsrnn-lightning", "Lightning .ckpt + hparams.yaml of github.com/amanteur/BandSplitRNN-PyTorch",
              bsrnn_lightning.detect, bsrnn_lightning.convert),
    Converter("coverhunter", "CoverHunterMPS / CoverHunter g_XXXXXXXX + hparams.yaml (github.com/alanngnet/CoverHunterMPS)",
              coverhunter.detect, coverhunter.convert),
    Converter("songscope-0.1-key", "key models written by songscope 0.1", legacy.detect_key, legacy.convert_key),
    Converter("songscope-0.1-separation", "separation models written by songscope 0.1",
              legacy.detect_separation, legacy.convert_separation),
    Converter("songscope-0.1-training", "last.pt / best.pt of songscope 0.1 training runs",
              legacy.detect_training, legacy.convert_training),
    Converter("allin1", "allin1's All-In-One checkpoints (huggingface.co/taejunkim/allinone)", allinone.detect,
              allinone.convert),
)


def read_checkpoint(path: str | Path, entry: ModelEntry | None = None) -> Checkpoint:
    """Open a model file safely (:func:`~songscope.models.container.safe_load`) and return its
    contents as a container, converting foreign layouts.

    Args:
        path: the file. entry: its catalog entry when it was named (supplies what the file lacks).

    Raises:
        CheckpointError: unreadable, unsafe, damaged, or a layout no converter knows.
    """
    path = Path(path)
    payload = safe_load(path)
    if is_container(payload):
        return Checkpoint.from_payload(payload, path)
    for converter in CONVERTERS:
        if converter.detect(payload, path):
            checkpoint = converter.convert(payload, path, entry)
            checkpoint.source = path
            return checkpoint
    keys = ", ".join(sorted(map(str, payload))[:6])
    raise CheckpointError(f"{path}: not a model file songscope knows (top-level keys: {keys}); known layouts: "
                          f"songscope, {', '.join(c.name for c in CONVERTERS)}")
