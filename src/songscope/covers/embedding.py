"""A recording's CoverHunter embedding, as CoverHunterMPS's ``tools/identify.py`` computes it.

The features of the whole recording (their decibel reference is its loudest bin) are cut to
one chunk from the start: ``chunk_frame[0] * mean_size`` frames (135 s by default), padded with
-100 dB when the recording is shorter, averaged over ``mean_size`` frames, embedded, and scaled
to unit length. Like their tools, the rest of a longer recording is not read (``make_embeds``
takes one random chunk of that length instead).
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

__all__ = ["embed_signal", "network_input", "net_from_checkpoint", "unit_embeddings"]


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


def embed_signal(net: CoverHunterNet, signal: np.ndarray) -> np.ndarray:
    """Unit embedding (embed_dim,) float32 of a mono 16 kHz signal (N,).

    Raises:
        AudioError: too short for the CQT (0.512 s at the default settings), or a zero embedding.
    """
    features = csi_features(signal, net.config.feature_spec)
    return unit_embeddings(net, network_input(features, net.config)[None])[0]


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
