"""Section-label priors learned from the Harmonix Set's published annotations (no audio).

``harmonix_priors.json`` beside this module is built by ``tools/harmonix_priors.py`` from the
text files ``dataset/segments/*.txt`` of github.com/urinieto/harmonixset (Nieto et al., ISMIR
2019; MIT licence); the file records how many annotations it was built from. Labels are the 8
musical ``HARMONIX_LABELS`` (``start``/``end`` silences excluded), raw names merged as allin1
merges them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InputError

__all__ = ["LabelPriors", "MUSICAL_LABELS", "OCCURRENCE_CLASSES", "PRIORS_PATH", "load_priors"]

#: The labels of musical sections, in the order of the prior tables.
MUSICAL_LABELS: tuple[str, ...] = ("intro", "verse", "chorus", "bridge", "inst", "solo", "break", "outro")
#: Occurrence counts 1, 2, 3, 4 and "5 or more" of a label's runs in a song.
OCCURRENCE_CLASSES = 5
PRIORS_PATH = Path(__file__).with_name("harmonix_priors.json")


@dataclass(frozen=True)
class LabelPriors:
    """Log-probability tables over :data:`MUSICAL_LABELS` (K = 8 labels).

    Attributes:
        start, end: (K,) log P(first / last musical section has label k).
        transition: (K, K) log P(next label | label).
        position: (B, K) log P(label | section centre in relative-position bin b of B).
        duration_mean, duration_std: (K,) Gaussian of log(section length / median section length).
        recurs: (K,) P(the label occurs more than once in a song | a section has it).
        occurrences: (K, 5) log P(the label forms 1, 2, 3, 4, 5+ runs | it occurs).
        songs: number of annotated songs the tables come from.
    """

    start: np.ndarray
    end: np.ndarray
    transition: np.ndarray
    position: np.ndarray
    duration_mean: np.ndarray
    duration_std: np.ndarray
    recurs: np.ndarray
    occurrences: np.ndarray
    songs: int

    @classmethod
    def from_dict(cls, table: dict) -> "LabelPriors":
        """Parse the JSON tables (probabilities; checked to be normalised and in label order)."""
        if tuple(table.get("labels", ())) != MUSICAL_LABELS:
            raise InputError(f"label priors: expected labels {list(MUSICAL_LABELS)}, got {table.get('labels')}")
        arrays = {}
        for key in ("start", "end", "transition", "position", "occurrences"):
            value = np.asarray(table[key], dtype=float)
            if np.any(value <= 0) or not np.allclose(value.sum(axis=-1), 1.0, atol=1e-3):
                raise InputError(f"label priors: '{key}' is not a positive, normalised distribution")
            arrays[key] = np.log(value)
        recurs = np.asarray(table["recurs"], dtype=float)
        return cls(start=arrays["start"], end=arrays["end"], transition=arrays["transition"],
                   position=arrays["position"], duration_mean=np.asarray(table["log_duration"]["mean"], dtype=float),
                   duration_std=np.asarray(table["log_duration"]["std"], dtype=float),
                   recurs=np.clip(recurs, 1e-3, 1 - 1e-3), occurrences=arrays["occurrences"],
                   songs=int(table.get("songs", 0)))


@lru_cache(maxsize=None)
def load_priors(path: Path = PRIORS_PATH) -> LabelPriors:
    """The label priors stored at ``path`` (default: the Harmonix tables shipped with songscope)."""
    try:
        table = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read label priors ({exc})") from None
    return LabelPriors.from_dict(table)
