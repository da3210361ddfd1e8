"""A recording's CoverHunter embedding.

The features of the whole recording (their decibel reference is its loudest bin) are cut into
consecutive chunks of ``chunk_frame[0] * mean_size`` frames (``chunk_s`` seconds; 135 s by
default), as CoverHunterMPS's evaluation cuts them (:func:`chunk_starts_of`): the first always,
padded with -100 dB when the recording is shorter, then one more every chunk while it ends
inside the recording. Each chunk is averaged over ``mean_size`` frames and embedded; the
recording's embedding is the mean of the chunks' unit embeddings, scaled to unit length. A
recording of one chunk (any under 270 s at the default settings) gets CoverHunterMPS's
``tools/identify.py`` embedding, its first chunk's; with short chunks the mean reads the whole
recording (on held-out synthetic works it ranked better than the first chunk, see
``benchmarks/covers_train.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import AudioError, CheckpointError, ConfigError
from ..models.container import Checkpoint
from .config import CoverHunterConfig
from .features import chunk_features, csi_features, mean_pool
from .model import TRAINING_ONLY, CoverHunterNet

__all__ = ["chunk_starts_of", "embed_features", "embed_signal", "network_input", "net_from_checkpoint",
           "unit_embeddings"]


def network_input(features: np.ndarray, config: CoverHunterConfig) -> np.ndarray:
    """The network's input for a recording: (chunk_frame[0], n_bins) float32 from its features
    (T, n_bins): the first chunk, padded with -100 dB, averaged over ``mean_size`` frames."""
    return mean_pool(chunk_features(features, config.chunk_input_frames), config.mean_size)


def unit_embeddings(net: CoverHunterNet, inputs: np.ndarray) -> np.ndarray:
    """Unit-length embeddings (B, embed_dim) float32 of network inputs (B, T, n_bins).

    Raises:
        AudioError: an embedding of zero length (no direction to compare).
    """
    device = next(net.parameters()).device
    with torch.no_grad():
        vectors = net(torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32)).to(device)).cpu().numpy()
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise AudioError("CoverHunter gave a zero embedding (silent or degenerate input)")
    return (vectors / norms).astype(np.float32)


def chunk_starts_of(seconds: float, config: CoverHunterConfig) -> list[int]:
    """Start frames of a recording's chunks: 0, then every ``chunk_frame[0] * mean_size`` frames
    while the chunk ends before ``seconds`` (the recording's duration)."""
    per_second = 1.0 / float(config.cqt.get("hop_size", 0.04))
    length = config.chunk_input_frames / per_second
    starts, at = [0], length
    while at + length < seconds:
        starts.append(int(at * per_second))
        at += length
    return starts


def embed_features(net: CoverHunterNet, features: np.ndarray, seconds: float) -> np.ndarray:
    """Unit embedding (embed_dim,) float32 of a recording of ``seconds`` from its features
    (T, n_bins): the mean of its chunks' unit embeddings (see the module docstring), re-scaled.

    Raises:
        AudioError: a zero embedding.
    """
    config = net.config
    inputs = [mean_pool(chunk_features(features, config.chunk_input_frames, start), config.mean_size)
              for start in chunk_starts_of(seconds, config)]
    mean = unit_embeddings(net, np.stack(inputs)).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm == 0:
        raise AudioError("CoverHunter's chunk embeddings cancel out (no direction to compare)")
    return (mean / norm).astype(np.float32)


def embed_signal(net: CoverHunterNet, signal: np.ndarray) -> np.ndarray:
    """Unit embedding (embed_dim,) float32 of a mono 16 kHz signal (N,): :func:`embed_features`.

    Raises:
        AudioError: too short for the CQT (0.512 s at the default settings), or a zero embedding.
    """
    features = csi_features(signal, net.config.feature_spec)
    return embed_features(net, features, len(signal) / net.config.feature_spec.sample_rate)


def net_from_checkpoint(checkpoint: Checkpoint, device: str | torch.device = "cpu") -> CoverHunterNet:
    """The network of a ``coverhunter`` checkpoint, in eval mode on ``device``.

    Raises:
        CheckpointError: bad hyper-parameters, or weights that do not fit them.
    """
    source = checkpoint.source or Path("checkpoint")
    try:
        config = CoverHunterConfig.from_hparams(checkpoint.config, source)
    except ConfigError as exc:
        raise CheckpointError(f"{source}: bad CoverHunter settings ({exc})") from None
    net = CoverHunterNet(config)
    missing, unexpected = net.load_state_dict(checkpoint.state_dict, strict=False)
    needed = [k for k in missing if k not in TRAINING_ONLY]
    if needed or unexpected:
        raise CheckpointError(f"{source}: weights do not fit CoverHunter (missing {needed[:3]}, unexpected {unexpected[:3]})")
    return net.to(device).eval()
