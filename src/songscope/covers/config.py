"""CoverHunter's settings, read from CoverHunterMPS's ``hparams.yaml`` keys (no torch needed).

One dataclass holds every key of CoverHunterMPS's training ``hparams.yaml``
(``training/<name>/config/hparams.yaml``) and of its data-preparation one
(``data/<name>/hparams.yaml``: ``fmin``, ``n_bins``, ``bins_per_octave``, ...), so a user's file
builds the same model. The original CoverHunter's ``ce:`` section is CoverHunterMPS's ``foc:``
(it is renamed on reading); a top-level section holding ``query_path`` and ``ref_path`` is a test
set (CoverHunterMPS finds them the same way). Any other unknown key is a one-line
:class:`~songscope.errors.ConfigError`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError
from ..train.config import build_config, read_yaml
from .features import CSI_SAMPLE_RATE, CSIFeatureSpec

__all__ = ["CenterConfig", "CoverHunterConfig", "EncoderConfig", "FocalConfig", "TripletConfig", "load_yaml",
           "read_hparams"]


@dataclass
class EncoderConfig:
    """The conformer (``encoder:``). output_dims: model width (attention and convolution
    channels); attention_dim: hidden units of the feed-forward modules (CoverHunter's name);
    num_blocks: conformer blocks."""

    output_dims: int = 128
    num_blocks: int = 6
    attention_dim: int = 256


@dataclass
class FocalConfig:
    """The classification head and its focal loss (``foc:``, the original's ``ce:``).
    output_dims: classes (works) of the training set; weight: loss weight; gamma: focusing
    exponent; alpha: the original CoverHunter's optional path to per-class counts (.npy)."""

    output_dims: int = 30000
    weight: float = 1.0
    gamma: float = 2.0
    alpha: str | None = None


@dataclass
class TripletConfig:
    """Hard triplet loss (``triplet:``): margin, and weight (used above 0.01)."""

    margin: float = 0.3
    weight: float = 0.1


@dataclass
class CenterConfig:
    """Center loss (``center:``): weight (used above 0)."""

    weight: float = 0.0


_SECTIONS = {"encoder": EncoderConfig, "foc": FocalConfig, "triplet": TripletConfig, "center": CenterConfig}


@dataclass
class CoverHunterConfig:
    """CoverHunterMPS's hyper-parameters (its ``hparams.yaml`` keys; defaults from its
    ``training/covers80/config/hparams.yaml`` and ``data/covers80/hparams.yaml``).

    The network reads ``input_dim``, ``embed_dim``, ``encoder``, ``foc``, ``triplet``, ``center``;
    the features ``fmin``, ``n_bins`` (default ``input_dim``), ``bins_per_octave`` and
    ``cqt.hop_size``; inference ``chunk_frame[0]`` and ``mean_size``. The remaining keys are
    CoverHunterMPS's data and training settings, kept so a file round-trips.
    """

    input_dim: int = 96
    embed_dim: int = 128
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    pool_type: str = "attention"
    foc: FocalConfig = field(default_factory=FocalConfig)
    triplet: TripletConfig = field(default_factory=TripletConfig)
    center: CenterConfig = field(default_factory=CenterConfig)
    # features (data hparams.yaml)
    fmin: float = 32.0
    n_bins: int | None = None
    bins_per_octave: int = 12
    aug_speed_mode: list[float] | None = None
    add_noise: dict | None = None
    val_data_split: float | None = None
    val_unseen: float | None = None
    test_data_split: float | None = None
    test_data_unseen: float | None = None
    # dataset
    data_type: str = "cqt"
    chunk_frame: list[int] | int = field(default_factory=lambda: [1125, 900, 675])
    chunk_s: float = 135.0
    mode: str = "random"
    mean_size: int = 3
    m_per_class: int = 8
    cqt: dict = field(default_factory=lambda: {"hop_size": 0.04})
    spec_augmentation: dict = field(default_factory=dict)
    # training
    train_path: str | None = None
    val_path: str | None = None
    test_path: str | None = None
    train_sample_path: str | None = None
    dev_path: str | None = None
    every_n_epoch_to_test: int = 1
    every_n_epoch_to_dev: int | None = None
    every_n_epoch_to_save: int = 1
    bootstrap: int = 0
    device: str = "mps"
    seed: int = 1234
    num_workers: int = 1
    num_gpus: int = 1
    batch_size: int = 32
    learning_rate: float = 0.001
    optimizer: str = "adamw"
    adam_b1: float = 0.8
    adam_b2: float = 0.99
    weight_decay: float | None = None
    prodigy_d_coef: float = 1.0
    prodigy_safeguard_warmup: bool = False
    lr_decay: float = 0.9
    min_lr: float = 0.0001
    warmup: bool = False
    warmup_steps: int = 20000
    hold_steps: int = 0
    early_stop_metric: str = "val_loss"
    early_stopping_patience: int | None = None
    max_epochs: int | None = None
    map_stopping_testsets: list[str] = field(default_factory=list)
    map_smoothing_alpha: float = 0.3
    k_folds: int | None = None
    lr_initial: float | None = None
    fold_hold_steps: int | None = None
    fold_lr_decay: float | None = None
    final_lr_decay: float | None = None
    final_fold_position: float | None = None
    final_early_stopping_patience: int | None = None
    testsets: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.chunk_frame, int):
            self.chunk_frame = [self.chunk_frame]
        for name in ("input_dim", "embed_dim", "mean_size", "bins_per_octave"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if self.encoder.output_dims % 4:
            raise ConfigError("encoder.output_dims must be a multiple of 4 (the conformer's 4 attention heads)")
        if min(self.encoder.num_blocks, self.encoder.attention_dim, self.foc.output_dims) < 1:
            raise ConfigError("encoder.num_blocks, encoder.attention_dim and foc.output_dims must be at least 1")
        if self.feature_bins != self.input_dim:
            raise ConfigError(f"n_bins ({self.n_bins}) must equal input_dim ({self.input_dim}): the CQT bins are the input")
        if not self.chunk_frame or min(self.chunk_frame) < 1:
            raise ConfigError("chunk_frame needs at least one positive length")
        if self.input_dim < 7:
            raise ConfigError("input_dim must be at least 7 (the conformer's two stride-2 convolutions)")

    @property
    def feature_bins(self) -> int:
        """CQT bins: ``n_bins``, by default ``input_dim``."""
        return self.input_dim if self.n_bins is None else self.n_bins

    @property
    def feature_spec(self) -> CSIFeatureSpec:
        """The CQT these settings describe (``fmin``, bins, ``cqt.hop_size`` at 16 kHz)."""
        hop = round(float(self.cqt.get("hop_size", 0.04)) * CSI_SAMPLE_RATE)
        return CSIFeatureSpec(hop=hop, fmin=float(self.fmin), n_bins=self.feature_bins,
                              bins_per_octave=self.bins_per_octave)

    @property
    def chunk_input_frames(self) -> int:
        """Feature frames one embedding reads: ``chunk_frame[0] * mean_size`` (135 s by default)."""
        return self.chunk_frame[0] * self.mean_size

    @classmethod
    def settings_of(cls, data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Split an ``hparams.yaml`` mapping into ``(settings, unknown keys)``: ``ce`` renamed
        ``foc``, test-set sections (``query_path`` + ``ref_path``) gathered under ``testsets``."""
        values = dict(data)
        if "ce" in values and "foc" not in values:
            values["foc"] = values.pop("ce")
        known = {f.name for f in dataclasses.fields(cls)}
        testsets = dict(values.pop("testsets", {}) or {})
        unknown = []
        for key in [k for k in values if k not in known]:
            if isinstance(values[key], Mapping) and {"query_path", "ref_path"} <= set(values[key]):
                testsets[key] = dict(values.pop(key))
            else:
                unknown.append(key)
        return {**values, "testsets": testsets}, unknown

    @classmethod
    def from_hparams(cls, data: Mapping[str, Any], source: object = "hparams.yaml") -> "CoverHunterConfig":
        """Settings from an ``hparams.yaml`` mapping (CoverHunterMPS's or the original's keys).

        Raises:
            ConfigError: an unknown key (outside test sets), a wrong type or a bad value, in one line.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: expected a mapping of hyper-parameters")
        if "ce" in data and "foc" in data:
            raise ConfigError(f"{source}: both 'ce' and 'foc' sections; keep 'foc' (CoverHunterMPS's name)")
        values = cls.settings_of(data)[0]  # unknown keys stay: build_config names the first one
        for key, section in _SECTIONS.items():
            if key in values:
                if not isinstance(values[key], Mapping):
                    raise ConfigError(f"{source}: '{key}' must be a section of settings")
                values[key] = build_config(section, values[key], f"{source} [{key}]")
        return build_config(cls, values, source)

    def to_hparams(self) -> dict[str, Any]:
        """The ``hparams.yaml`` mapping (CoverHunterMPS's keys; test sets at the top level)."""
        out = dataclasses.asdict(self)
        out.update(out.pop("testsets"))
        return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    """The mapping an ``hparams.yaml`` file holds (empty for an empty file).

    Raises:
        ConfigError: missing file, no PyYAML, a YAML syntax error, or not a mapping (one line each).
    """
    return read_yaml(path)


def read_hparams(path: str | Path) -> CoverHunterConfig:
    """Read an ``hparams.yaml`` file into :class:`CoverHunterConfig`.

    Raises:
        ConfigError: see :func:`load_yaml` and :meth:`CoverHunterConfig.from_hparams`.
    """
    return CoverHunterConfig.from_hparams(load_yaml(path), path)
