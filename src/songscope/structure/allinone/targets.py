"""Training targets of the All-In-One network, as allin1's data pipeline builds them.

At ``fps`` frames per second an event at ``t`` seconds falls on frame ``floor(t * fps)``.
Beats, downbeats and section boundaries become (T,) targets for the binary cross-entropies,
widened as allin1 does (``widen_temporal_events``): the event frame holds 1, a frame ``d``
frames away ``0.5 ** d`` for ``d`` up to ``neighbors`` (1 for beats and downbeats, 2 for
boundaries), the larger value where two events are near. Section functions become one
:data:`~songscope.conventions.HARMONIX_LABELS` index per frame: ``start`` before the first
boundary, each section's function inside it, ``end`` from the last boundary (the end of the
last section) on.

Raw section names of annotations (Harmonix Set's ``verse2``, ``prechorus``, ``instrumental``,
``fadeout``, ...) are merged into the ten functions by :func:`merge_label`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ...conventions import HARMONIX_LABELS

__all__ = ["StructureTargets", "event_frames", "function_frames", "merge_label", "structure_targets", "widen"]

#: (pattern, function) tried in order on the lower-cased name without digits and separators.
_MERGE = (
    (r"^pre|^build", "verse"),
    (r"chorus|refrain|hook|drop", "chorus"),
    (r"verse|rap", "verse"),
    (r"intro", "intro"),
    (r"outro|coda|fade|ending", "outro"),
    (r"bridge|transition", "bridge"),
    (r"solo", "solo"),
    (r"inst|interlude|riff", "inst"),
    (r"break", "break"),
    (r"^end$", "end"),
    (r"^start$|^silence$", "start"),
)


def merge_label(name: str) -> str:
    """The :data:`HARMONIX_LABELS` function of a raw section name (``"Verse 2"`` -> ``verse``,
    ``"prechorus"`` -> ``verse``, ``"instrumental"`` -> ``inst``); unknown names -> ``inst``."""
    key = re.sub(r"[\d\s_\-.()]+", "", str(name).lower())
    if key in HARMONIX_LABELS:
        return key
    for pattern, label in _MERGE:
        if re.search(pattern, key):
            return label
    return "inst"


def event_frames(times: np.ndarray, frames: int, fps: float) -> np.ndarray:
    """Frames (int64, unique, ascending) of event ``times`` (s) inside ``[0, frames)``."""
    index = np.floor(np.asarray(times, dtype=np.float64) * fps + 1e-9).astype(np.int64)
    return np.unique(index[(index >= 0) & (index < frames)])


def widen(events: np.ndarray, frames: int, neighbors: int) -> np.ndarray:
    """(frames,) float32: 1 at the ``events`` frames, ``0.5 ** d`` at distance ``d <= neighbors``."""
    out = np.zeros(frames, dtype=np.float32)
    for distance in range(neighbors, -1, -1):
        for side in (-1, 1):
            index = events + side * distance
            index = index[(index >= 0) & (index < frames)]
            out[index] = np.maximum(out[index], np.float32(0.5 ** distance))
    return out


def function_frames(boundaries: np.ndarray, labels: list[str], frames: int, fps: float) -> np.ndarray:
    """(frames,) int64 :data:`HARMONIX_LABELS` index per frame.

    Args:
        boundaries: (n + 1,) section starts and the end of the last section (s), ascending.
        labels: the n sections' functions (names in HARMONIX_LABELS).
    """
    index = np.floor(np.asarray(boundaries, dtype=np.float64) * fps + 1e-9).astype(np.int64)
    names = ["start", *labels, "end"]
    codes = np.array([HARMONIX_LABELS.index(n) for n in names], dtype=np.int64)
    return codes[np.searchsorted(index, np.arange(frames), side="right")]


@dataclass
class StructureTargets:
    """Targets of one track (or crop) of T frames.

    Attributes:
        beat, downbeat, section: (T,) float32 widened targets.
        function: (T,) int64 label indices. has_sections: False when the annotation has no
            sections (their losses are then masked out).
    """

    beat: np.ndarray
    downbeat: np.ndarray
    section: np.ndarray
    function: np.ndarray
    has_sections: bool

    def crop(self, start: int, length: int) -> "StructureTargets":
        """Frames ``start .. start + length - 1`` (zero / ``end`` beyond the track)."""
        def cut(a: np.ndarray, fill: float) -> np.ndarray:
            part = a[start:start + length]
            return np.concatenate([part, np.full(length - len(part), fill, dtype=a.dtype)])
        return StructureTargets(cut(self.beat, 0), cut(self.downbeat, 0), cut(self.section, 0),
                                cut(self.function, HARMONIX_LABELS.index("end")), self.has_sections)


def structure_targets(frames: int, fps: float, beats: np.ndarray, downbeats: np.ndarray,
                      boundaries: np.ndarray | None = None, labels: list[str] | None = None) -> StructureTargets:
    """allin1's targets of a track of ``frames`` frames (see the module docstring).

    Args:
        beats, downbeats: times (s). boundaries: (n + 1,) section starts and the final end (s),
            None without sections. labels: the n sections' raw or merged names.
    """
    beat = widen(event_frames(beats, frames, fps), frames, 1)
    downbeat = widen(event_frames(downbeats, frames, fps), frames, 1)
    if boundaries is None or labels is None or len(boundaries) < 2:
        return StructureTargets(beat, downbeat, np.zeros(frames, np.float32),
                                np.zeros(frames, np.int64), False)
    section = widen(event_frames(boundaries, frames, fps), frames, 2)
    function = function_frames(boundaries, [merge_label(x) for x in labels], frames, fps)
    return StructureTargets(beat, downbeat, section, function, True)
