"""Choosing the torch device a model runs on."""

from __future__ import annotations

from .conventions import DEVICES
from .errors import ConfigError, InputError

__all__ = ["select_device"]


def select_device(device: str | None = None) -> str:
    """``device`` if given, else CUDA, then MPS, then CPU, whichever torch can use."""
    import torch

    if device:
        kind = device.split(":")[0]
        if kind == "cuda" and not torch.cuda.is_available():
            raise InputError("device 'cuda' requested but torch sees no CUDA GPU")
        if kind == "mps" and not torch.backends.mps.is_available():
            raise InputError("device 'mps' requested but it is not available")
        if kind not in DEVICES:
            raise ConfigError(f"unknown device {device!r}; use {', '.join(DEVICES)}")
        return device
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"
