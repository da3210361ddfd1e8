"""Named checkpoints (``-m stone24``): where each file comes from, its sha256, and what the file
cannot say for itself (the label order of official STONE files); and named ensembles of them
(``-m harmonix-all``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..key.labels import KEY_SIGNATURES, key_name

__all__ = ["CATALOG", "ModelEntry", "UNAVAILABLE"]

_STONE_COMMIT = "9179423f1f3d3ccbe689d8e3359bae352c247501"
_STONE_URL = f"https://github.com/deezer/stone/raw/{_STONE_COMMIT}/ckpt/{{}}"


@dataclass(frozen=True)
class ModelEntry:
    """A downloadable checkpoint of any model family.

    The architecture comes from the file itself (each family's loader reads it from the state
    dict or the stored config); an entry only says where the file is, how to check it, and what
    the file cannot say for itself.

    Attributes:
        name: the name users give (``-m NAME``).
        family: the model family that reads the file (``stone`` for key models, ``bsrnn`` or
            ``unet`` for separation, ...).
        task: the task of that family; a command only accepts names of its own task.
        filename: file name in the model cache (empty for an ensemble).
        sha256: expected digest of the file; None where the publisher gives none (the file is
            used unchecked, and its digest is shown when it is downloaded).
        url: where online users download it from (None: local files only).
        description: one line for listings.
        labels: output index -> label, for classifiers whose files do not store it (STONE:
            keys, or key signatures for 12-class models); empty otherwise.
        parts: for a named ensemble, the catalogued names it combines (``-m a,b,...``); empty otherwise.
    """

    name: str
    family: str
    task: str
    filename: str
    sha256: str | None
    url: str | None
    description: str
    labels: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()


# STONE 12: index i is the key signature whose major tonic is Bb + i semitones
_STONE12_LABELS = tuple(KEY_SIGNATURES[(10 + i) % 12] for i in range(12))
# STONE 24: i < 12 -> minor key on B + i; 12 + i -> major key on D + i
_STONE24_LABELS = tuple(key_name((11 + i) % 12, True) for i in range(12)) + tuple(
    key_name((2 + i) % 12, False) for i in range(12))

CATALOG: dict[str, ModelEntry] = {
    "stone12": ModelEntry(
        "stone12", "stone", "key", "semitone_ks.pt",
        "d4bb627c78c164ee78bcd5472217a0943286a36b30b397d9c9da1ce33c026d73",
        _STONE_URL.format("semitone_ks.pt"),
        "STONE (ISMIR 2024), self-supervised, 12 key signatures (official checkpoint, no licence stated)",
        _STONE12_LABELS,
    ),
    "stone24": ModelEntry(
        "stone24", "stone", "key", "semisupervised_ks_mode.pt",
        "eb7a456dcfaf53f9eba3a468071ca3f3214d2f56070d961fff8ac6434ecb3cd5",
        _STONE_URL.format("semisupervised_ks_mode.pt"),
        "24-STONE (ISMIR 2024), semi-supervised, 24 keys (official checkpoint, no licence stated)",
        _STONE24_LABELS,
    ),
}


# allin1's eight Harmonix Set folds (allin1/models/loaders.py: NAME_TO_FILE, hf_hub_download from
# taejunkim/allinone at main). Neither allin1 nor its hub repository publishes digests to check them
# against, hence sha256 None.
_ALLIN1_URL = "https://huggingface.co/taejunkim/allinone/resolve/main/{}"
_ALLIN1_FILES = ("harmonix-fold0-0vra4ys2.pth", "harmonix-fold1-3ozjhtsj.pth", "harmonix-fold2-gmgo0nsy.pth",
                 "harmonix-fold3-i92b7m8p.pth", "harmonix-fold4-1bql5qo0.pth", "harmonix-fold5-x4z5zeef.pth",
                 "harmonix-fold6-x7t226rq.pth", "harmonix-fold7-qwwskhg6.pth")
for _fold, _file in enumerate(_ALLIN1_FILES):
    CATALOG[f"harmonix-fold{_fold}"] = ModelEntry(
        f"harmonix-fold{_fold}", "allinone", "structure", _file, None, _ALLIN1_URL.format(_file),
        f"allin1's All-In-One network, Harmonix Set fold {_fold} (official checkpoint)")
CATALOG["harmonix-all"] = ModelEntry(
    "harmonix-all", "allinone", "structure", "", None, None,
    "allin1's harmonix-all: the eight Harmonix folds averaged (official checkpoints)",
    parts=tuple(f"harmonix-fold{i}" for i in range(8)))


#: Names users know from the seed systems whose family this version does not have yet:
#: name -> (task, what it is).
UNAVAILABLE: dict[str, tuple[str, str]] = {}
