"""Named checkpoints: where each comes from, its sha256, and how its outputs map to labels."""

from __future__ import annotations

from dataclasses import dataclass

from ..key.labels import KEY_SIGNATURES, key_name

__all__ = ["ModelEntry", "REGISTRY", "get_entry"]

_STONE_COMMIT = "9179423f1f3d3ccbe689d8e3359bae352c247501"
_STONE_URL = f"https://github.com/deezer/stone/raw/{_STONE_COMMIT}/ckpt/{{}}"


@dataclass(frozen=True)
class ModelEntry:
    """A downloadable checkpoint.

    Attributes:
        name: registry name (``songscope key --model NAME``).
        family: model family (``chromanet``).
        filename: file name in the model cache.
        sha256: expected digest of the file.
        url: where online users download it from (None: local files only).
        labels: output index -> label (keys, or key signatures for 12-class models).
        num_classes: outputs of the model.
        norm: ChromaNet normalisation of this checkpoint.
        description: one line for listings.
    """

    name: str
    family: str
    filename: str
    sha256: str
    url: str | None
    labels: tuple[str, ...]
    num_classes: int
    norm: str
    description: str


# STONE 12: index i is the key signature whose major tonic is Bb + i semitones
_STONE12_LABELS = tuple(KEY_SIGNATURES[(10 + i) % 12] for i in range(12))
# STONE 24: i < 12 -> minor key on B + i; 12 + i -> major key on D + i
_STONE24_LABELS = tuple(key_name((11 + i) % 12, True) for i in range(12)) + tuple(
    key_name((2 + i) % 12, False) for i in range(12))

REGISTRY: dict[str, ModelEntry] = {
    "stone12": ModelEntry(
        "stone12", "chromanet", "semitone_ks.pt",
        "d4bb627c78c164ee78bcd5472217a0943286a36b30b397d9c9da1ce33c026d73",
        _STONE_URL.format("semitone_ks.pt"), _STONE12_LABELS, 12, "frame",
        "STONE (ISMIR 2024), self-supervised, 12 key signatures (official checkpoint, no licence stated)",
    ),
    "stone24": ModelEntry(
        "stone24", "chromanet", "semisupervised_ks_mode.pt",
        "eb7a456dcfaf53f9eba3a468071ca3f3214d2f56070d961fff8ac6434ecb3cd5",
        _STONE_URL.format("semisupervised_ks_mode.pt"), _STONE24_LABELS, 24, "global",
        "24-STONE (ISMIR 2024), semi-supervised, 24 keys (official checkpoint, no licence stated)",
    ),
}


def get_entry(name: str) -> ModelEntry:
    """The registry entry called ``name`` (KeyError if unknown)."""
    return REGISTRY[name]
