"""Architecture and front-end settings of the All-In-One network, named as allin1's ``Config``
(``allin1/config.py``) names them, so that a released checkpoint's config reads as it is."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from ...errors import CheckpointError

__all__ = ["AllInOneConfig"]

_ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "softmax", "log_softmax", "elu", "selu", "gelu", "prelu")


@dataclass(frozen=True)
class AllInOneConfig:
    """allin1's configuration keys that shape inference (its training keys are left out).

    Front end: ``sample_rate`` (Hz), ``window_size`` (samples per frame), ``hop_size`` (samples
    between frames, 441 = 100 frames/s), ``fps``, ``num_bands`` (bands per octave), ``fmin`` /
    ``fmax`` (Hz). Network: ``depth`` blocks of ``num_heads``-head neighbourhood attention with
    ``kernel_size`` keys, dilations ``min(dilation_factor ** i, dilation_max)``, embedding width
    ``dim_embed``, ``dim_input`` spectrogram bins, ``mlp_ratio``, ``qkv_bias``,
    ``instrument_attention`` (2-D attention over stems and time, else a 1-D time layer),
    ``double_attention`` (a second time attention at twice the dilation), dropouts ``drop_*``,
    activations ``act_conv`` / ``act_transformer``, ``layer_norm_eps``, ``model`` (``"tcn"`` widens
    the first convolution). Data: ``num_instruments`` stems, ``num_labels`` section functions
    (allin1 keeps both under ``data``). Decoding: ``best_threshold_beat`` /
    ``best_threshold_downbeat`` (activation threshold of the beat decoder; None: no cropping),
    ``min_hops_per_beat`` (frames; the boundary local-maximum filter is ``4 x`` this + 1).
    """

    model: str = "allinone"
    sample_rate: int = 44100
    window_size: int = 2048
    num_bands: int = 12
    hop_size: int = 441
    fps: int = 100
    fmin: float = 30.0
    fmax: float = 17000.0
    threshold_beat: float = 0.19
    threshold_downbeat: float = 0.19
    threshold_section: float = 0.05
    best_threshold_beat: float | None = None
    best_threshold_downbeat: float | None = None
    instrument_attention: bool = True
    double_attention: bool = True
    depth: int = 11
    dilation_factor: int = 2
    dilation_max: int = 3200
    num_heads: int = 2
    kernel_size: int = 5
    dim_input: int = 81
    dim_embed: int = 24
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    drop_conv: float = 0.2
    drop_path: float = 0.1
    drop_hidden: float = 0.2
    drop_attention: float = 0.2
    drop_last: float = 0.0
    act_conv: str = "elu"
    act_transformer: str = "gelu"
    layer_norm_eps: float = 1e-5
    bpm_min: int = 55
    bpm_max: int = 240
    min_hops_per_beat: int = 24
    num_instruments: int = 4
    num_labels: int = 10

    def __post_init__(self) -> None:
        for name in ("act_conv", "act_transformer"):
            if getattr(self, name) not in _ACTIVATIONS:
                raise CheckpointError(f"All-In-One config: unsupported {name} {getattr(self, name)!r} "
                                      f"(allin1 knows {', '.join(_ACTIVATIONS)})")
        if self.dim_embed % self.num_heads or self.kernel_size % 2 == 0:
            raise CheckpointError(f"All-In-One config: dim_embed ({self.dim_embed}) must divide into num_heads "
                                  f"({self.num_heads}) and kernel_size ({self.kernel_size}) must be odd")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AllInOneConfig":
        """Read allin1's config (``data`` nested or flattened) or :meth:`to_dict`'s; other keys are ignored.

        Raises:
            CheckpointError: a value of the wrong type or an unsupported setting.
        """
        flat = dict(data)
        nested = flat.pop("data", None)
        if isinstance(nested, Mapping):
            flat.update({k: nested[k] for k in ("num_instruments", "num_labels") if k in nested})
        values = {}
        for f in fields(cls):
            if f.name not in flat:
                continue
            value = flat[f.name]
            kind = type(f.default)
            try:
                values[f.name] = value if value is None or kind is type(None) else kind(value)
            except (TypeError, ValueError):
                raise CheckpointError(f"All-In-One config: {f.name} = {value!r} is not a {kind.__name__}") from None
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able settings (the container's ``config``)."""
        return asdict(self)

    @property
    def dilations(self) -> list[int]:
        """Dilation of the time attention of each block."""
        return [min(self.dilation_factor ** i, self.dilation_max) for i in range(self.depth)]
