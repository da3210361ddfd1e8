"""Key names (mir_eval spelling) and key signatures (relative major/minor pairs)."""

from __future__ import annotations

from ..conventions import PITCH_NAMES
from ..errors import InputError

__all__ = ["PITCH_NAMES", "KEYS", "KEY_SIGNATURES", "key_name", "key_signature", "parse_key"]

_ALIASES = {"Db": 1, "D#": 3, "Gb": 6, "G#": 8, "A#": 10, "Cb": 11, "B#": 0, "E#": 5, "Fb": 4}

#: The 24 keys: index ``tonic`` = major, ``12 + tonic`` = minor.
KEYS = tuple(f"{p} major" for p in PITCH_NAMES) + tuple(f"{p} minor" for p in PITCH_NAMES)

#: The 12 key signatures named by their relative pair, indexed by the major tonic.
KEY_SIGNATURES = tuple(f"{PITCH_NAMES[t]} major/{PITCH_NAMES[(t + 9) % 12]} minor" for t in range(12))


def key_name(tonic: int, minor: bool) -> str:
    """``key_name(9, True) == "A minor"``."""
    return f"{PITCH_NAMES[tonic % 12]} {'minor' if minor else 'major'}"


def key_signature(tonic: int, minor: bool) -> str:
    """The relative pair of a key: ``key_signature(9, True) == "C major/A minor"``."""
    major_tonic = (tonic + 3) % 12 if minor else tonic % 12
    return KEY_SIGNATURES[major_tonic]


def parse_key(text: str) -> tuple[int, bool]:
    """``"F# minor"`` -> ``(6, True)``; accepts flats and sharps, ``Major``/``min`` spellings."""
    parts = text.strip().replace(":", " ").split()
    if len(parts) != 2:
        raise InputError(f"not a key: {text!r} (expected e.g. 'C major' or 'F# minor')")
    tonic, mode = parts[0][0].upper() + parts[0][1:], parts[1].lower()
    if tonic in PITCH_NAMES:
        pc = PITCH_NAMES.index(tonic)
    elif tonic in _ALIASES:
        pc = _ALIASES[tonic]
    else:
        raise InputError(f"not a key: {text!r} (unknown tonic {parts[0]!r})")
    if mode not in {"major", "minor", "maj", "min"}:
        raise InputError(f"not a key: {text!r} (mode must be major or minor)")
    return pc, mode.startswith("min")
