"""The ``allinone`` structure family (``analyze -m harmonix-fold0``, a converted allin1 checkpoint,
or ``-m a.pt,b.pt``): allin1's All-In-One network on the separated stems.

The engine reads ``audio.stems`` (``uses_stems``: analyze separates first), each stem as mono at
44.1 kHz; returns beats and labelled sections with allin1's activations (``beat``, ``downbeat``,
``segment`` (T,), ``label`` (10, T) at 100 fps) and embeddings (4, T, 24). Several models (allin1's
``harmonix-all``) average their logits before the post-processing, as allin1's ``Ensemble`` does,
and stack their embeddings as (4, T, 24, models).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from ...audio.signal import Audio, View
from ...beats.dbn import DBNConfig
from ...beats.track import dbn_with_settings
from ...errors import CheckpointError, ConfigError, InputError
from ...models.family import Engine, Family
from ...result import StructureResult
from .config import AllInOneConfig
from .postprocess import beats_from_activations, boundary_frames, label_segments
from .train_config import StructureTrainConfig

if TYPE_CHECKING:
    import torch

    from ...models.container import Checkpoint
    from .model import AllInOne
    from .stream import SpectrogramSink

__all__ = ["ALLIN1_DBN", "ENSEMBLE_KEY", "AllInOneEngine", "FAMILIES", "activations_from_logits", "combine",
           "network_outputs", "stem_spectrograms",
           "structure_from_activations"]

#: The decoder allin1 runs (madmom's ``DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)``);
#: the threshold is each checkpoint's ``best_threshold_downbeat``.
ALLIN1_DBN = DBNConfig(beats_per_bar=(3, 4), min_bpm=55.0, max_bpm=205.0, num_tempi=60, threshold=0.0)

#: Metadata key of an ensemble checkpoint (``--folds all``): the number of member models, whose
#: parameters are stored as ``members.<i>.<name>``.
ENSEMBLE_KEY = "members"


def stem_spectrograms(audio: Audio, cfg: AllInOneConfig, device: str) -> "torch.Tensor":
    """allin1's network input: (1, 4, T, 81) log spectrograms of the stems (bass, drums, other,
    vocals), each read as mono at ``cfg.sample_rate``; T = ceil(samples / hop). Spectrograms
    computed while the stems streamed out of the separator (:class:`~.stream.SpectrogramSink`,
    ``audio.stems.features``) are used as they are.

    Raises:
        InputError: no stems, or a stem missing.
    """
    import torch

    from .frontend import log_spectrogram
    from .stream import MonoStems, feature_key

    stems = audio.stems
    if stems is None:
        raise InputError("the allinone engine reads separated stems; analyze separates first (--demix)")
    streamed = stems.features.get(feature_key(cfg))
    if streamed is not None:
        return torch.from_numpy(streamed).to(device)[None]
    mono = MonoStems(stems.sample_rate, cfg.sample_rate).mono(stems.sources, last=True)
    samples = torch.from_numpy(mono).to(device)
    return log_spectrogram(samples, cfg)[None]


def _as_numpy(tensor: "torch.Tensor") -> np.ndarray:
    return tensor.detach().float().cpu().numpy()


def activations_from_logits(beat: "torch.Tensor", downbeat: "torch.Tensor", section: "torch.Tensor",
                            function: "torch.Tensor") -> dict[str, np.ndarray]:
    """allin1's activations (its ``compute_activations``): sigmoids of the (T,) beat, downbeat and
    section logits as ``beat``, ``downbeat``, ``segment``; the softmax over the 10 labels of the
    (10, T) function logits as ``label``; float32."""
    import torch

    return {"beat": _as_numpy(torch.sigmoid(beat)), "downbeat": _as_numpy(torch.sigmoid(downbeat)),
            "segment": _as_numpy(torch.sigmoid(section)), "label": _as_numpy(torch.softmax(function, dim=0))}


def structure_from_activations(activations: dict[str, np.ndarray], dbn: DBNConfig, cfg: AllInOneConfig,
                               embeddings: np.ndarray | None = None,
                               features: dict[str, np.ndarray] | None = None) -> StructureResult:
    """Beats (``dbn``), sections and labels from :func:`activations_from_logits`' output, as allin1
    post-processes them (see :mod:`~songscope.structure.allinone.postprocess`)."""
    beats = beats_from_activations(activations["beat"], activations["downbeat"], dbn)
    boundaries = boundary_frames(activations["segment"], cfg.min_hops_per_beat, cfg.fps)
    segments = label_segments(boundaries, activations["label"], cfg.fps)
    return StructureResult(beats, segments, activations, embeddings, features or {})


@dataclass
class AllInOneEngine:
    """Engine: stems -> :class:`~songscope.result.StructureResult` through one All-In-One network or
    the average of several (their front ends must agree).

    Attributes:
        name: what the user asked for. models: the networks (eval mode, on ``device``).
        dbn: the beat decoder (meters and tempo range from the task settings).
    """

    name: str
    models: list["AllInOne"]
    device: str
    dbn: DBNConfig
    family: str = "allinone"
    task: str = "structure"
    views: tuple[View, ...] = (View(44100, 1),)
    uses_stems: bool = True
    cfg: AllInOneConfig = field(init=False)

    def __post_init__(self) -> None:
        self.cfg = self.models[0].cfg
        self.views = (View(self.cfg.sample_rate, 1),)

    def stem_sink(self, sample_rate: int, model: str) -> "SpectrogramSink":
        """What ``analyze --demix`` streams the separated chunks (at ``sample_rate`` Hz) into:
        the spectrograms are computed chunk by chunk and the stems are not kept."""
        from .stream import SpectrogramSink

        return SpectrogramSink(self.cfg, sample_rate, model)

    def predict(self, audio: Audio) -> StructureResult:
        """Beats, sections, activations (100 fps) and embeddings of ``audio`` (its ``stems`` set)."""
        import torch

        with torch.inference_mode():
            spectrograms = _as_numpy(stem_spectrograms(audio, self.cfg, self.device)[0])
            outputs = [network_outputs(model, spectrograms) for model in self.models]
            mean = [torch.from_numpy(np.mean([o[i] for o in outputs], axis=0)) for i in range(4)]
            embeddings = [o[4] for o in outputs]
            features = {"spectrogram": spectrograms, "fps": np.float32(self.cfg.fps)}
        stacked = embeddings[0] if len(embeddings) == 1 else np.stack(embeddings, axis=-1)
        return structure_from_activations(activations_from_logits(*mean), self.dbn, self.cfg, stacked, features)


#: Recordings longer than this (frames; 10 min) run through the network in chunks of
#: CHUNK_FRAMES overlapping by CHUNK_OVERLAP frames (bounded memory); shorter ones in one pass.
LONG_FRAMES, CHUNK_FRAMES, CHUNK_OVERLAP = 60000, 30000, 6000


def network_outputs(model: "AllInOne", spectrogram: np.ndarray, long_frames: int = LONG_FRAMES,
                    chunk_frames: int = CHUNK_FRAMES, overlap: int = CHUNK_OVERLAP) -> tuple[np.ndarray, ...]:
    """One network's beat, downbeat, section (T,) and function (10, T) logits and (4, T, dim)
    embeddings for a (4, T, bins) spectrogram: one pass up to ``long_frames`` frames, else
    chunked (:func:`~songscope.structure.allinone.export.chunked_logits`)."""
    import torch

    from .export import OUTPUTS, chunked_logits

    device = next(model.parameters()).device

    def run(chunk: np.ndarray) -> list[np.ndarray]:
        out = model(torch.from_numpy(chunk).to(device))
        return [_as_numpy(getattr(out, name)) for name in OUTPUTS]

    if spectrogram.shape[1] <= long_frames:
        return tuple(part[0] for part in run(np.ascontiguousarray(spectrogram[None], dtype=np.float32)))
    return chunked_logits(run, spectrogram, chunk_frames, overlap)


def _threshold(configs: list[AllInOneConfig]) -> float:
    """allin1's ensemble threshold: the mean ``best_threshold_downbeat`` (0, no cropping, without one)."""
    values = [c.best_threshold_downbeat for c in configs if c.best_threshold_downbeat is not None]
    return float(np.mean(values)) if values else 0.0


def _front_end(cfg: AllInOneConfig) -> tuple:
    return (cfg.sample_rate, cfg.window_size, cfg.hop_size, cfg.num_bands, cfg.fmin, cfg.fmax, cfg.fps,
            cfg.num_instruments, cfg.num_labels, cfg.min_hops_per_beat)


def _load(name: str, checkpoint: "Checkpoint", device: str | None, settings: Mapping[str, Any]) -> AllInOneEngine:
    from ...device import select_device
    from .model import AllInOne

    cfg = AllInOneConfig.from_dict(checkpoint.config)
    members = checkpoint.metadata.get(ENSEMBLE_KEY)
    states = [checkpoint.state_dict] if members is None else [
        {key[len(prefix):]: value for key, value in checkpoint.state_dict.items() if key.startswith(prefix)}
        for prefix in (f"{ENSEMBLE_KEY}.{i}." for i in range(int(members)))]
    target = select_device(device)
    models = []
    for state in states:
        model = AllInOne(cfg)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise CheckpointError(f"{name}: not the weights of its All-In-One config (missing: {', '.join(missing[:3]) or 'none'}"
                                  f"; unexpected: {', '.join(unexpected[:3]) or 'none'})")
        models.append(model.to(target).eval())
    dbn = replace(dbn_with_settings(ALLIN1_DBN, settings), threshold=_threshold([cfg]))
    return AllInOneEngine(name, models, target, dbn)


def combine(name: str, engines: list[Engine]) -> AllInOneEngine:
    """``-m a,b`` / ``harmonix-all``: one engine averaging the networks' logits (allin1's ``Ensemble``).

    Raises:
        ConfigError: networks with different front ends, outputs or devices.
    """
    parts = [e for e in engines if isinstance(e, AllInOneEngine)]
    models = [model for engine in parts for model in engine.models]
    if len(parts) != len(engines) or len({_front_end(m.cfg) for m in models}) != 1 or len({e.device for e in parts}) != 1:
        raise ConfigError(f"{name}: these All-In-One models differ in front end, outputs or device")
    return AllInOneEngine(name, models, parts[0].device,
                          replace(parts[0].dbn, threshold=_threshold([m.cfg for m in models])))


def _train(config: StructureTrainConfig, progress: bool) -> tuple[Any, Path]:
    from .training import train_structure_model

    return train_structure_model(config, progress)


FAMILIES = (Family("allinone", "structure", "allin1's All-In-One network on separated stems (Kim & Nam 2023)",
                   _load, needs=("torch",), config=StructureTrainConfig, train=_train, ensemble=combine),)
