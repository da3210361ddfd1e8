"""Separation families: ``classic`` (no weights), ``bsrnn`` (Band-Split RNN) and ``unet``
(spectrogram U-Nets), the neural ones trainable, and ``demucs`` (pretrained Demucs bags such as
``htdemucs``, when the ``demucs`` package is installed); any of them combine with ``-m a,b``."""

from __future__ import annotations

from ..models.family import Family
from .config import SeparationTrainConfig
from .demucs_engine import DEMUCS_NAMES, demucs_separator
from .engine import classic_separator, combine_separators, neural_separator

__all__ = ["FAMILIES"]


def _train(config: SeparationTrainConfig, progress: bool):
    from .training import train_separation_model

    return train_separation_model(config, progress)


def _neural(name: str, description: str) -> Family:
    return Family(name, "separation", description, neural_separator, needs=("torch",),
                  config=SeparationTrainConfig, train=_train, ensemble=combine_separators)


FAMILIES: tuple[Family, ...] = (
    Family("classic", "separation", "HPSS + REPET-SIM + low-pass bass, soft masks (no weights)", classic_separator,
           builtin_names=("classic",), ensemble=combine_separators),
    _neural("bsrnn", "Band-Split RNN (Luo & Yu 2022): band split, BLSTMs over time and bands, complex masks"),
    _neural("unet", "spectrogram U-Nets (simple, LSTM or VAE bottleneck) with sigmoid masks"),
    Family("demucs", "separation", "Demucs (Hybrid Transformer Demucs and others), pretrained weights from Demucs's "
           "own download", demucs_separator, builtin_names=DEMUCS_NAMES, needs=("demucs",), extra="demucs",
           ensemble=combine_separators),
)
