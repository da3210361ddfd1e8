"""Separation engines: one interface (a window of audio in, its stems out) for the classic
engine, each neural family, and several models combined, so that chunking, resampling,
channel handling and writing exist once (``api.py``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..audio.signal import Audio, View
from ..conventions import STEMS
from ..errors import ConfigError
from ..result import Stems
from .chunked import separate_array
from .classic import ClassicConfig, separate_classic

__all__ = ["DEFAULT_OVERLAP", "Separator", "classic_separator", "combine_separators", "neural_separator"]

#: Fraction of a window shared with the next one when nothing else is asked.
DEFAULT_OVERLAP = 0.25


@dataclass
class Separator:
    """A separation engine: ``run`` maps a window (C, window) float32 to its stems (S, C, window).

    Attributes:
        name: what was asked for (``classic``, a path, ``a.pt,b.pt``). family: the family.
        targets: stems in output order. sample_rate: Hz. channels: channels the engine wants
            (None: mono or stereo as the input has it). window: default chunk (samples).
        fixed_window: the network only takes chunks of exactly ``window`` samples.
    """

    name: str
    family: str
    targets: tuple[str, ...]
    sample_rate: int
    channels: int | None
    window: int
    run: Callable[[np.ndarray], np.ndarray]
    fixed_window: bool = False
    task: str = "separation"
    uses_stems: bool = False

    @property
    def views(self) -> tuple[View, ...]:
        """The one form of the mixture the engine reads."""
        return (View(self.sample_rate, self.channels),)

    def hop(self, window: int, overlap: float = DEFAULT_OVERLAP) -> int:
        """Samples between window starts for ``overlap`` (fraction shared with the next window)."""
        return max(1, int(round(window * (1.0 - overlap))))

    def predict(self, audio: Audio) -> Stems:
        """Stems of a whole recording in memory, windows cross-faded (see ``chunked.py``)."""
        mixture = audio.get(self.sample_rate, self.channels)
        sources = separate_array(self.run, mixture, self.window, self.hop(self.window), len(self.targets),
                                 self.fixed_window)
        return Stems(dict(zip(self.targets, sources)), self.sample_rate, self.name)


def classic_separator(name: str, checkpoint: Any = None, device: str | None = None, settings: Any = None) -> Separator:
    """The classic engine (HPSS + REPET-SIM + soft masks) at 44.1 kHz, any channel count."""
    config = ClassicConfig()
    return Separator(name, "classic", STEMS, 44100, None, int(config.window_seconds * 44100),
                     functools.partial(separate_classic, sample_rate=44100, config=config))


def neural_separator(name: str, checkpoint: Any, device: str | None = None, settings: Any = None) -> Separator:
    """A Band-Split RNN or U-Net checkpoint as an engine on ``device`` (None: the best available)."""
    import torch

    from ..device import select_device
    from .model import separation_model_from_checkpoint

    device = select_device(device)
    model = separation_model_from_checkpoint(checkpoint).to(device)

    @torch.no_grad()
    def run(chunk: np.ndarray) -> np.ndarray:
        wave = torch.from_numpy(np.ascontiguousarray(chunk))[None].to(device)
        return model(wave)[0].float().cpu().numpy()

    required = model.required_window()
    window = required or int(round(model.window_seconds * model.sample_rate))
    return Separator(name, model.family, model.targets, model.sample_rate, model.channels, window, run,
                     required is not None)


def combine_separators(name: str, parts: list[Separator]) -> Separator:
    """Several single- or multi-target engines as one (a later part wins a shared stem); the
    Band-Split RNN paper trains one model per stem.

    Raises:
        ConfigError: parts at different rates, channel counts or fixed chunk lengths.
    """
    if len({p.sample_rate for p in parts}) > 1 or len({p.channels for p in parts}) > 1:
        raise ConfigError("combined models must share sample rate and channel count")
    fixed = {p.window for p in parts if p.fixed_window}
    if len(fixed) > 1:
        raise ConfigError("combined models have different fixed chunk lengths; separate with each on its own")
    owner = {stem: (i, p.targets.index(stem)) for i, p in enumerate(parts) for stem in p.targets}
    targets = tuple(s for s in STEMS if s in owner)

    def run(chunk: np.ndarray) -> np.ndarray:
        outputs = [p.run(chunk) for p in parts]
        return np.stack([outputs[i][j] for i, j in (owner[s] for s in targets)])

    window = fixed.pop() if fixed else min(p.window for p in parts)
    family = parts[0].family if len({p.family for p in parts}) == 1 else "+".join(p.family for p in parts)
    return Separator(name, family, targets, parts[0].sample_rate, parts[0].channels, window, run,
                     any(p.fixed_window for p in parts))
