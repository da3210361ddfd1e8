"""Sections and their functional labels: classic self-similarity engine."""

from .classic import Segment, StructureEstimate, segment_classic, silence_bounds
from .labels import HARMONIX_LABELS

__all__ = ["HARMONIX_LABELS", "Segment", "StructureEstimate", "segment_classic", "silence_bounds"]
