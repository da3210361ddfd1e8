"""Key profiles: expected pitch-class weights of a major and a minor key with tonic C."""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["PROFILES", "profile"]

#: name -> (major, minor) profiles, index 0 = tonic.
PROFILES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    # Krumhansl & Kessler (1982), probe-tone ratings
    "krumhansl": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
    # Temperley (2007), Kostka-Payne corpus: probability that a pitch class occurs in a segment
    "temperley": (
        (0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400),
        (0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330),
    ),
    # Albrecht & Shanahan (2013), pitch-class durations in a classical corpus
    "albrecht": (
        (0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081),
        (0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052),
    ),
}


def profile(name: str) -> np.ndarray:
    """Templates of the 24 keys, (24, 12): row ``t`` = t major, ``12 + t`` = t minor."""
    if name not in PROFILES:
        raise InputError(f"unknown key profile {name!r}; choose from {', '.join(PROFILES)}")
    major, minor = (np.asarray(p, dtype=float) for p in PROFILES[name])
    return np.stack([np.roll(major, t) for t in range(12)] + [np.roll(minor, t) for t in range(12)])
