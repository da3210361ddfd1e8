"""Sections and their functional labels: the classic self-similarity engine."""

from .classic import StructureEstimate, segment_classic, silence_bounds

__all__ = ["StructureEstimate", "segment_classic", "silence_bounds"]
