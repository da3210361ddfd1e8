"""Parsing the stem lists users give (``--stems vocals,drums``)."""

from __future__ import annotations

from ..conventions import STEMS
from ..errors import InputError

__all__ = ["parse_stems"]


def parse_stems(text: str | None, available: tuple[str, ...] = STEMS) -> tuple[str, ...]:
    """``"vocals,drums"`` -> ("drums", "vocals") in ``available`` order; None -> all available.

    Raises:
        InputError: an empty list or a stem the model does not produce.
    """
    if text is None:
        return tuple(available)
    wanted = [s.strip().lower() for s in text.split(",") if s.strip()]
    if not wanted:
        raise InputError("empty stem list")
    unknown = [s for s in wanted if s not in available]
    if unknown:
        raise InputError(f"unknown stem {unknown[0]!r}; this model gives {', '.join(available)}")
    return tuple(s for s in available if s in wanted)
