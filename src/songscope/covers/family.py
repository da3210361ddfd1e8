"""Families of the ``covers`` task.

- ``classic`` (``-m classic``, no weights): 2D Fourier transform magnitude fingerprints of
  beat-synchronous chroma, and Qmax re-ranking (:mod:`songscope.covers.classic`);
- ``coverhunter``: CoverHunter (CoverHunterMPS) checkpoints. Its engine reads the mono 16 kHz
  mixture and returns the recording's unit-length embedding (:mod:`songscope.covers.embedding`).
  Files come as songscope containers or as CoverHunterMPS's ``g_XXXXXXXX`` + ``hparams.yaml``
  (:mod:`songscope.models.converters.coverhunter`). It trains (:mod:`songscope.covers.training`),
  tunes (:mod:`songscope.covers.tune`) and trains for production (:mod:`songscope.covers.prod`)
  from CoverHunterMPS's hparams.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..audio.signal import Audio, View
from ..models.family import Family
from ..result import CoverEmbedding
from .features import CSI_SAMPLE_RATE
from .train_config import CoverHunterTrainConfig

__all__ = ["CoverHunterEngine", "FAMILIES"]


def _load_classic(name: str, checkpoint: Any, device: str | None, settings: Mapping[str, Any]) -> Any:
    from .classic import ClassicCovers

    return ClassicCovers(name)


@dataclass
class CoverHunterEngine:
    """Engine: mono 16 kHz -> :class:`~songscope.result.CoverEmbedding` (one chunk from the start)."""

    name: str
    net: Any
    family: str = "coverhunter"
    task: str = "covers"
    views: tuple[View, ...] = (View(CSI_SAMPLE_RATE, 1),)
    uses_stems: bool = False

    def predict(self, audio: Audio) -> CoverEmbedding:
        """The recording's unit embedding (embed_dim,) float32; ``frames`` is None (one chunk).

        Raises:
            AudioError: shorter than the CQT's reach (0.512 s), or a zero embedding.
        """
        from .embedding import embed_signal

        return CoverEmbedding(embed_signal(self.net, audio.mono(CSI_SAMPLE_RATE)), self.name)


def _load(name: str, checkpoint: Any, device: str | None, settings: Mapping[str, Any]) -> CoverHunterEngine:
    from ..device import select_device
    from .embedding import net_from_checkpoint

    return CoverHunterEngine(name, net_from_checkpoint(checkpoint, select_device(device)))


def _train(config: CoverHunterTrainConfig, progress: bool) -> tuple[Any, Path]:
    from .training import train_coverhunter

    return train_coverhunter(config, progress)


def _tune(config: CoverHunterTrainConfig, tuning: Path, progress: bool) -> Path:
    from .tune import tune_coverhunter

    return tune_coverhunter(config, tuning, progress)


def _prod(config: CoverHunterTrainConfig, progress: bool) -> tuple[Any, Path]:
    from .prod import prod_coverhunter

    return prod_coverhunter(config, progress)


FAMILIES = (
    Family("classic", "covers", "2D Fourier transform magnitude of beat-synchronous chroma, Qmax re-ranking "
           "(no weights)", _load_classic, builtin_names=("classic",)),
    Family("coverhunter", "covers", "CoverHunter conformer embeddings (CoverHunterMPS checkpoints)", _load,
           needs=("torch",), config=CoverHunterTrainConfig, train=_train, tune=_tune, prod=_prod),
)
