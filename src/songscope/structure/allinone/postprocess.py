"""From All-In-One activations to beats and labelled sections, as allin1's ``postprocessing``
package does it (``metrical.py``, ``functional.py``, ``helpers.py``, ``tempo.py``), with songscope's
bar-pointer DBN (:func:`~songscope.beats.dbn.decode_downbeats`, madmom's model) for the beats.

Metrical: the beat and downbeat probabilities become three classes per frame, beat-not-downbeat
``max(1e-8, beat - downbeat)``, downbeat, and none ``((1 - beat) + (1 - downbeat)) / 2``,
normalised to sum 1; the first two go to the downbeat decoder; tempo is the most frequent rounded
inter-beat tempo. Functional: the boundary probability keeps only its local maxima over
``4 * min_hops_per_beat + 1`` frames; a maximum over the surrounding 24 s (12 s each side) whose
value exceeds the mean of the 12 s before and the 12 s after is a boundary; each section takes the
label whose probability, averaged over the section's frames, is highest.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d

from ...beats.dbn import DBNConfig, decode_downbeats
from ...beats.tempo import bpm_mode
from ...conventions import HARMONIX_LABELS
from ...result import BeatResult, Segment

__all__ = ["beats_from_activations", "boundary_frames", "label_segments", "local_maxima", "peak_picking"]


def beats_from_activations(beat: np.ndarray, downbeat: np.ndarray, config: DBNConfig) -> BeatResult:
    """Beats, downbeats, meter and tempo (allin1's ``postprocess_metrical_structure``).

    Args:
        beat, downbeat: (T,) probabilities at ``config.fps`` (beat includes downbeats).
        config: the decoder (meters, tempo range, threshold, ...).

    Returns:
        the decoded beats; ``activations`` holds the (T, 2) [beat-not-downbeat, downbeat] classes decoded.
    """
    beat = np.asarray(beat, dtype=np.float32)
    downbeat = np.asarray(downbeat, dtype=np.float32)
    classes = np.stack([np.maximum(np.float32(1e-8), beat - downbeat), downbeat,
                        ((1.0 - beat) + (1.0 - downbeat)) / 2.0], axis=-1).astype(np.float32)
    classes /= classes.sum(axis=-1, keepdims=True)
    joint = classes[:, :2]
    decoded, path = decode_downbeats(joint, config)
    times = decoded[:, 0] if len(decoded) else np.empty(0)
    positions = decoded[:, 1].astype(int) if len(decoded) else np.empty(0, dtype=int)
    meter = path.num_beats if path is not None and len(times) else 0
    return BeatResult(times, positions, meter, bpm_mode(times), joint, config.fps)


def local_maxima(activation: np.ndarray, size: int) -> np.ndarray:
    """(T,) ``activation`` where it equals the maximum of the ``size`` frames centred on it
    (edges padded with -inf), 0 elsewhere."""
    activation = np.asarray(activation)
    peaks = activation == maximum_filter1d(activation, size, mode="constant", cval=-np.inf)
    return np.where(peaks, activation, 0).astype(activation.dtype)


def peak_picking(activation: np.ndarray, window: int) -> np.ndarray:
    """(T,) strength of every maximum of ``activation`` over the ``window`` frames on each side
    (edges padded with zeros): its value minus the mean of the mean of the ``window`` frames
    before and the mean of the ``window`` frames after; 0 at frames that are no such maximum."""
    activation = np.asarray(activation)
    peaks = (activation == maximum_filter1d(activation, 2 * window + 1, mode="constant", cval=0)) & (activation > 0)
    total = np.concatenate([[0.0], np.cumsum(np.pad(activation, window), dtype=np.float64)])
    index = np.arange(len(activation))
    before = (total[index + window] - total[index]) / window
    after = (total[index + 2 * window + 1] - total[index + window + 1]) / window
    return np.where(peaks, activation - (before + after) / 2, 0).astype(activation.dtype)


def boundary_frames(segment: np.ndarray, min_hops_per_beat: int, fps: float) -> np.ndarray:
    """Frames (int, ascending) of the section boundaries in a (T,) boundary probability."""
    maxima = local_maxima(segment, 4 * min_hops_per_beat + 1)
    return np.flatnonzero(peak_picking(maxima, int(round(12 * fps))) > 0)


def label_segments(boundaries: np.ndarray, label: np.ndarray, fps: float) -> list[Segment]:
    """Sections between ``boundaries`` (frames), from 0 s to ``T / fps`` s, each labelled with the
    :data:`~songscope.conventions.HARMONIX_LABELS` entry of highest mean probability in ``label``
    (10, T) over its frames."""
    frames = label.shape[1]
    duration = frames / fps
    times = np.asarray(boundaries, dtype=float) / fps
    if len(times) == 0 or times[0] != 0:
        times = np.insert(times, 0, 0.0)
    if times[-1] != duration:
        times = np.append(times, duration)
    parts = np.split(label, np.asarray(boundaries)[np.asarray(boundaries) > 0], axis=1)
    names = [HARMONIX_LABELS[int(part.mean(axis=1).argmax())] for part in parts]
    return [Segment(float(start), float(end), name) for start, end, name in zip(times[:-1], times[1:], names)]
