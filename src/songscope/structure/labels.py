"""Functional section labels, in the order ``allin1`` uses for its label activations."""

__all__ = ["HARMONIX_LABELS"]

#: The 10 section labels of the Harmonix Set as ``allin1`` merges them.
HARMONIX_LABELS: tuple[str, ...] = (
    "start", "end", "intro", "outro", "break", "bridge", "inst", "solo", "verse", "chorus",
)
