"""Toy model families written against the family contract alone: a config, a tiny torch model and
one registration each, for the structure, key and separation tasks. ``tests/test_models.py``
registers them and drives them through the commands and the Python API, with no change to
``cli.py`` or ``pipeline.py``.

Structure (``toy``, trainable): one learned 1-D convolution maps the onset envelope of the mixture
(100 frames per second) to a beat activation; beats are its peaks above half its maximum. Key (``toykey``): a
12 x 24 linear map from the chroma of the whole signal to the 24 keys. Separation (``toysep``):
one learned gain per stem.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from scipy.signal import find_peaks

from songscope.audio.signal import Audio, View, decode
from songscope.conventions import HARMONIX_LABELS, STEMS
from songscope.key.labels import KEYS, key_signature, parse_key
from songscope.library.inputs import expand_inputs
from songscope.models.container import Checkpoint, save_checkpoint
from songscope.models.family import Family
from songscope.result import BeatResult, KeyResult, Segment, StructureResult
from songscope.separation.engine import Separator
from songscope.train.config import TrainConfig, build_config, read_config_file

RATE = 8000
HOP = RATE // 100


def onset_envelope(mono: np.ndarray) -> np.ndarray:
    """(T,) half-wave rectified rise of the log frame energy at 100 frames per second."""
    frames = len(mono) // HOP
    energy = np.log1p(1000 * (mono[: frames * HOP].reshape(frames, HOP) ** 2).mean(axis=1))
    return np.maximum(np.diff(energy, prepend=energy[:1]), 0.0).astype(np.float32)


class ToyNet(torch.nn.Module):
    """(B, 1, T) onset envelope -> (B, T) beat probability."""

    def __init__(self, kernel: int = 9):
        super().__init__()
        self.conv = torch.nn.Conv1d(1, 1, kernel, padding=kernel // 2)

    def forward(self, envelope: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(envelope))[:, 0]


@dataclass
class ToyTrainConfig:
    """A folder of audio; the targets are the frames where the onset envelope jumps."""

    data: str
    kernel: int = 9
    family: str = "toy"
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def load(cls, path: str | Path) -> "ToyTrainConfig":
        return build_config(cls, read_config_file(path, ("data",)), path)


@dataclass
class ToyStructure:
    name: str
    net: ToyNet
    family: str = "toy"
    task: str = "structure"
    views: tuple[View, ...] = (View(RATE, 1),)
    uses_stems: bool = False

    def predict(self, audio: Audio) -> StructureResult:
        envelope = onset_envelope(audio.mono(RATE))
        with torch.no_grad():
            act = self.net(torch.from_numpy(envelope)[None, None])[0].numpy()
        peaks, _ = find_peaks(act, height=0.5 * act.max(), distance=20)
        beats = peaks / 100.0
        positions = np.arange(len(beats)) % 4 + 1
        joint = np.stack([act * 0.75, act * 0.25], axis=1)
        beat_result = BeatResult(beats, positions, 4 if len(beats) else 0, None, joint)
        labels = np.zeros((len(HARMONIX_LABELS), len(act)), np.float32)
        labels[HARMONIX_LABELS.index("verse")] = 1.0
        activations = {"beat": act, "downbeat": joint[:, 1], "segment": np.zeros_like(act), "label": labels}
        return StructureResult(beat_result, [Segment(0.0, audio.duration, "verse")], activations,
                               np.stack([envelope, act], axis=-1)[None])


@dataclass
class ToyKey:
    name: str
    weight: torch.Tensor
    family: str = "toykey"
    task: str = "key"
    views: tuple[View, ...] = (View(RATE, 1),)
    uses_stems: bool = False

    def predict(self, audio: Audio) -> KeyResult:
        spectrum = np.abs(np.fft.rfft(audio.mono(RATE)))
        hz = np.fft.rfftfreq(len(audio.mono(RATE)), 1.0 / RATE)
        keep = (hz > 50) & (hz < 900)
        classes = np.round(12 * np.log2(hz[keep] / 261.6256)).astype(int) % 12
        chroma = np.bincount(classes, weights=spectrum[keep] ** 2, minlength=12).astype(np.float32)
        scores = torch.softmax(torch.from_numpy(chroma / chroma.max()) @ self.weight * 10, 0).numpy()
        best = KEYS[int(np.argmax(scores))]
        mode = best.split()[1]
        return KeyResult(best, key_signature(*parse_key(best)), mode, float(scores.max()), self.name, KEYS, scores)


def _load_structure(name: str, checkpoint: Checkpoint, device: str | None, settings: Mapping[str, Any]):
    net = ToyNet(int(checkpoint.config["kernel"]))
    net.load_state_dict(checkpoint.state_dict)
    return ToyStructure(name, net.eval())


def _load_key(name: str, checkpoint: Checkpoint, device: str | None, settings: Mapping[str, Any]) -> ToyKey:
    return ToyKey(name, checkpoint.state_dict["weight"])


def _load_separation(name: str, checkpoint: Checkpoint, device: str | None, settings: Mapping[str, Any]):
    gains = checkpoint.state_dict["gains"].numpy()
    return Separator(name, "toysep", STEMS, RATE, None, RATE * 2,
                     lambda chunk: gains[:, None, None] * chunk[None].astype(np.float32))


class ToyData:
    """``data[i]``: the onset envelope of a random 2 s excerpt of a training file and its targets."""

    def __init__(self, folder: str, seed: int):
        self.tracks = [onset_envelope(decode(f, [View(RATE, 1)]).mono(RATE)) for f in expand_inputs([folder])]
        self.seed = seed

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index])
        track = self.tracks[int(rng.integers(len(self.tracks)))]
        start = int(rng.integers(0, max(1, len(track) - 200)))
        envelope = track[start:start + 200]
        target = (envelope > 0.5 * envelope.max()).astype(np.float32)
        return torch.from_numpy(envelope)[None], torch.from_numpy(target)


def _train(config: ToyTrainConfig, progress: bool):
    from songscope.train.loop import best_state, train_loop

    data = ToyData(config.data, config.train.seed)
    net = ToyNet(config.kernel)

    def loss(model, batch):
        envelope, target = batch
        value = torch.nn.functional.binary_cross_entropy(model(envelope[None]), target[None])
        return value, {}

    def validate(model):
        return {"loss": float(np.mean([loss(model, data[10 ** 6 + i])[0].item() for i in range(4)]))}

    result = train_loop(net, data, loss, validate, config.train, "toy", {"kernel": config.kernel},
                        {"train_config": asdict(config)}, progress=progress)
    net.load_state_dict(best_state(result))
    out = save_checkpoint(Checkpoint("toy", {"kernel": config.kernel}, net.state_dict()),
                          Path(config.train.out_dir) / "model.pt")
    return result, out


FAMILIES = (
    Family("toy", "structure", "toy beat tracker", _load_structure, needs=("torch",), config=ToyTrainConfig,
           train=_train),
    Family("toykey", "key", "toy key estimator", _load_key, needs=("torch",)),
    Family("toysep", "separation", "toy stem gains", _load_separation, needs=("torch",)),
)
