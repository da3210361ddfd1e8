"""The classic covers engine: key-invariant fingerprints of beat-synchronous chroma (no weights),
and cross-recurrence Qmax to re-rank a short list.

Fingerprint (Bertin-Mahieux & Ellis, "Large-scale cover song recognition using the 2D Fourier
transform magnitude", ISMIR 2012), per recording:

1. beats from songscope's classic beat tracker: its multi-band flux activation decoded by its
   bar-pointer DBN with the classic settings (tempo range, tempo prior) and one beat per bar, as
   madmom's beat tracker does: the beats alone, without meter and downbeats, which cover
   identification does not need and which cost twice as much to decode;
2. chroma from songscope's NumPy CQT (:mod:`songscope.audio.cqt`: 36 bins per octave from C2 over
   five octaves at 5512 Hz, a 256-sample hop = 21.5 frames/s, tuned and folded to 12 classes,
   class 0 = C), averaged between consecutive beats: a (beats, 12) sequence, each beat scaled to
   a maximum of 1 (the paper's beat-aligned Echo Nest chroma are normalised so);
3. power-law expansion ``chroma ** 1.96`` (the paper's exponent, chosen there on training data);
4. every 75-beat patch (stride one beat; the paper's length) -> the magnitude of its 2D Fourier
   transform (beats x pitch classes). The magnitude does not change when the patch is rotated
   along the pitch axis (a transposition) or shifted in time, and beat-synchronous frames make
   it independent of tempo as long as the beat tracker counts beats at the same metrical level;
5. the median over patches, bin by bin, of the non-redundant half (the 38 non-negative temporal
   frequencies x 12 chroma frequencies: D = 456), compressed by ``log1p`` and scaled to unit
   length, so that cosine distance compares fingerprints.

The paper projects the median onto 50 principal components fitted on the Million Song Dataset;
a projection needs training data, so this engine keeps all 456 dimensions (cosine distances
rank the same whatever the scale of each bin; the ``log1p`` keeps the low-frequency bins, which
hold most of the energy, from dominating them).

A recording with fewer beats than a patch is one zero-padded patch; fewer than
:data:`MIN_BEATS` beats cannot be fingerprinted (AudioError).

Re-ranking (Serrà, Serra & Andrzejak, "Cross recurrence quantification for cover song
identification", New Journal of Physics 2009), between a query and a reference sequence of
chroma (:func:`qmax_distance`), as essentia's ``ChromaCrossSimilarity`` and
``CoverSongSimilarity`` (``serra09``, asymmetric distance) compute it:

0. the sequences are the CQT chroma averaged over blocks of ``QmaxSettings.block`` frames
   (2 frames: 10.8 per second; essentia's HPCP runs at 15.6), each block scaled to a maximum
   of 1: frames of fixed length, not beats. On the development corpus of
   ``benchmarks/covers_classic.py`` (10 candidates re-ranked, Qmax alone) beat chroma gave mAP
   0.866, blocks of 8, 4 and 2 frames 0.901, 0.926 and 0.963 at about 19, 24 and 44 ms a pair:
   a beat tracker that counts a re-tempo'd version at another metrical level (2 or 3 beats a bar
   instead of 4) changes the beat sequence, not the frame sequence;
1. the reference is rotated by the optimal transposition index (OTI: the rotation that best
   aligns the two recordings' summed chroma; Serrà, Gómez & Herrera 2008);
2. delay embedding: ``m = 9`` consecutive frames stacked into one vector (delay one frame);
3. a binary cross-recurrence plot: a pair of vectors recurs when their Euclidean distance is
   among the ``kappa = 9.5 %`` smallest of its row *and* of its column (the paper's fixed
   fraction of nearest neighbours; essentia's ``binarizePercentile`` default);
4. Qmax: the length of the longest local alignment through the plot, allowing tempo
   deviations (steps (1,1), (2,1), (1,2)) with penalties ``gamma_o = 5`` for opening a
   disruption and ``gamma_e = 0.5`` for extending it (the paper's values);
5. distance ``sqrt(reference frames) / Qmax`` (the paper's and essentia's asymmetric
   normalisation; Qmax below one counts as one, so the distance stays finite).

Fusion (:func:`fused_distance`): a re-ranked candidate's distance is the product
``cosine * qmax ** weight`` (``weight = 0.5``) of its fingerprint's cosine distance and its
Qmax distance. On the development corpus the product ranks better than either alone (mAP 0.971 against
0.963 for Qmax and 0.893 for the fingerprints; exponents 0.25, 1 and 2 were worse than 0.5 with
8-frame blocks): the fingerprint summarises the whole recording, Qmax finds the longest
shared passage, and their errors differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..audio.cqt import CQTSpec, cqt, estimate_tuning, tuned_chroma
from ..audio.features import ANALYSIS_SR, compute_features
from ..audio.signal import Audio, View
from ..beats import CLASSIC_DBN, DBNConfig, beat_activation, decode_beats
from ..errors import AudioError
from ..result import CoverEmbedding

__all__ = ["BEAT_DBN", "CHROMA_SPEC", "MIN_BEATS", "ClassicCovers", "QmaxSettings", "beat_chroma", "block_chroma",
           "chroma", "cross_recurrence", "fingerprint", "fused_distance", "optimal_transposition", "qmax",
           "qmax_distance", "track_beats"]

#: The CQT the chroma come from: songscope's default spectrum at a 256-sample hop (21.5 frames/s).
CHROMA_SPEC = CQTSpec(hop=256)
#: Fewest beats a recording needs for a fingerprint (and for Qmax's delay embedding).
MIN_BEATS = 16
#: The beat decoder: the classic engine's settings with one beat per bar (beats only).
BEAT_DBN = replace(CLASSIC_DBN, beats_per_bar=(1,))
_PATCH_BEATS = 75
_POWER = 1.96


@dataclass(frozen=True)
class QmaxSettings:
    """Settings of :func:`qmax_distance` (defaults: Serrà et al. 2009).

    Attributes:
        block: CQT chroma frames (of :data:`CHROMA_SPEC`, 21.5 per second) averaged into one
        frame of the aligned sequence. embedding: frames stacked into one vector (delay one
        frame). kappa: fraction of nearest neighbours that recur in each row and column. onset,
        extension: penalties (frames) for opening and extending a disruption of an alignment.
        weight: exponent of the Qmax distance in :func:`fused_distance`.
    """

    block: int = 2
    embedding: int = 9
    kappa: float = 0.095
    onset: float = 5.0
    extension: float = 0.5
    weight: float = 0.5


def track_beats(audio: Audio, dbn: DBNConfig = BEAT_DBN) -> np.ndarray:
    """Beat times (N,) in seconds of a recording (read as mono at 22.05 kHz)."""
    return decode_beats(beat_activation(compute_features(audio.mono(ANALYSIS_SR), ANALYSIS_SR)), dbn)


def chroma(audio: Audio) -> np.ndarray:
    """Tuned CQT chroma of a recording (read as mono at 5512 Hz): (frames, 12) float64, 21.5
    frames per second (:data:`CHROMA_SPEC`), class 0 = C."""
    spec = CHROMA_SPEC
    magnitude = np.abs(cqt(audio.mono(spec.sample_rate), spec))
    return tuned_chroma(magnitude, estimate_tuning(magnitude, spec), spec)


def _segment_means(frames: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Means of ``frames`` (T, 12) from each start to the next (the last to the end), each row
    scaled to a maximum of 1 (silent rows stay 0): (len(starts), 12) float32."""
    if not len(starts):
        return np.zeros((0, 12), np.float32)
    means = np.add.reduceat(frames, starts, axis=0) / np.diff(np.r_[starts, len(frames)])[:, None]
    peak = means.max(axis=1, keepdims=True)
    return (means / np.where(peak > 0, peak, 1.0)).astype(np.float32)


def beat_chroma(frames: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Beat-synchronous chroma.

    Args:
        frames: (T, 12) chroma of :func:`chroma` (21.5 frames per second).
        beats: (N,) beat times in seconds, increasing.

    Returns:
        (B, 12) float32: the chroma averaged from each beat to the next (the last beat to the
        end of the recording), each row scaled to a maximum of 1 (silent beats stay 0); ``B`` is
        the number of beats inside the recording.
    """
    starts = np.unique(np.round(np.asarray(beats) * CHROMA_SPEC.sample_rate / CHROMA_SPEC.hop).astype(int))
    return _segment_means(frames, starts[(starts >= 0) & (starts < len(frames))])


def block_chroma(frames: np.ndarray, block: int) -> np.ndarray:
    """Chroma averaged over blocks of ``block`` frames (a shorter last block kept), each row scaled
    to a maximum of 1: (ceil(T / block), 12) float32 from (T, 12)."""
    return _segment_means(frames, np.arange(0, len(frames), block))


def fingerprint(sequence: np.ndarray, patch: int = _PATCH_BEATS, power: float = _POWER) -> tuple[np.ndarray, np.ndarray]:
    """The 2D Fourier transform magnitude fingerprint of beat chroma.

    Args:
        sequence: (B, 12) beat chroma (rows scaled to a maximum of 1), B >= :data:`MIN_BEATS`.
        patch: beats per patch. power: exponent of the power-law expansion.

    Returns:
        ``(vector, patches)``: the unit fingerprint (D,) float32 with ``D = (patch // 2 + 1) * 12``,
        and the magnitudes of every patch (P, D) float32 before the median (P = B - patch + 1,
        one zero-padded patch when B < patch).

    Raises:
        AudioError: fewer than :data:`MIN_BEATS` beats, or no tonal content at all.
    """
    x = np.asarray(sequence, dtype=np.float64) ** power
    if len(x) < MIN_BEATS:
        raise AudioError(f"too short for a cover fingerprint: {len(x)} beats, needs at least {MIN_BEATS}")
    if len(x) < patch:
        x = np.pad(x, ((0, patch - len(x)), (0, 0)))
    windows = sliding_window_view(x, patch, axis=0)  # (P, 12, patch)
    magnitude = np.abs(np.fft.fft(np.fft.rfft(windows, axis=2), axis=1))  # (P, 12, patch // 2 + 1)
    patches = magnitude.transpose(0, 2, 1).reshape(len(windows), -1)
    vector = np.log1p(np.median(patches, axis=0))
    norm = np.linalg.norm(vector)
    if norm == 0:
        raise AudioError("no tonal content to fingerprint (the chroma are silent)")
    return (vector / norm).astype(np.float32), patches.astype(np.float32)


def optimal_transposition(query: np.ndarray, reference: np.ndarray) -> int:
    """The rotation (semitones, 0-11) that brings ``reference`` (B, 12) into the key of
    ``query`` (A, 12): the argmax over k of the dot product of the query's summed chroma with
    the reference's rotated by k (``np.roll(reference, k, axis=1)`` is then in the query's key)."""
    a, b = np.asarray(query, float).sum(axis=0), np.asarray(reference, float).sum(axis=0)
    a, b = a / max(a.max(), 1e-12), b / max(b.max(), 1e-12)
    return int(np.argmax([a @ np.roll(b, k) for k in range(12)]))


def _embed(sequence: np.ndarray, m: int) -> np.ndarray:
    """(B, 12) -> (B - m + 1, 12 m): ``m`` consecutive rows per vector (delay one row)."""
    return sliding_window_view(np.asarray(sequence, np.float64), m, axis=0).reshape(len(sequence) - m + 1, -1)


def cross_recurrence(query: np.ndarray, reference: np.ndarray, settings: QmaxSettings = QmaxSettings()) -> np.ndarray:
    """The binary cross-recurrence plot of two beat-chroma sequences (no transposition here).

    Args:
        query: (A, 12). reference: (B, 12); both at least ``settings.embedding`` rows.
        settings: embedding dimension and neighbour fraction ``kappa``.

    Returns:
        (A - m + 1, B - m + 1) bool: True where the delay vectors' Euclidean distance is within the
        ``kappa`` quantile of its row and of its column.
    """
    x, y = _embed(query, settings.embedding), _embed(reference, settings.embedding)
    squared = (x ** 2).sum(axis=1)[:, None] + (y ** 2).sum(axis=1)[None, :] - 2 * x @ y.T
    distance = np.sqrt(np.maximum(squared, 0.0))
    rows = np.quantile(distance, settings.kappa, axis=1)
    cols = np.quantile(distance, settings.kappa, axis=0)
    return (distance <= rows[:, None]) & (distance <= cols[None, :])


def qmax(recurrence: np.ndarray, onset: float = 5.0, extension: float = 0.5) -> float:
    """Qmax of a cross-recurrence plot (Serrà et al. 2009): the highest score of a local
    alignment that moves by (1,1), (2,1) or (1,2) cells, gains 1 on each recurrent cell and,
    across non-recurrent ones, loses ``onset`` after a recurrent cell and ``extension`` after a
    non-recurrent one (scores never drop below 0).

    Args:
        recurrence: (A, B) bool plot.

    Returns:
        the maximum score (0 for an empty plot); a straight diagonal run of n recurrent cells
        scores n.
    """
    r = np.zeros((recurrence.shape[0] + 2, recurrence.shape[1] + 2), dtype=bool)
    r[2:, 2:] = recurrence
    penalty = np.where(r, onset, extension)
    score = np.zeros(r.shape)
    for i in range(2, r.shape[0]):
        diagonal, skip_row, skip_col = score[i - 1, 1:-1], score[i - 2, 1:-1], score[i - 1, :-2]
        hit = np.maximum(np.maximum(diagonal, skip_row), skip_col) + 1.0
        miss = np.maximum.reduce([np.zeros(r.shape[1] - 2), diagonal - penalty[i - 1, 1:-1],
                                  skip_row - penalty[i - 2, 1:-1], skip_col - penalty[i - 1, :-2]])
        score[i, 2:] = np.where(r[i, 2:], hit, miss)
    return float(score.max())


def qmax_distance(query: np.ndarray, reference: np.ndarray, settings: QmaxSettings = QmaxSettings()) -> float:
    """Serrà et al.'s dissimilarity of two chroma sequences: ``sqrt(B) / max(Qmax, 1)``
    after rotating the reference (B, 12) into the query's (A, 12) key by the OTI. Smaller is more
    similar; well below 1 for versions of one work, up to ``sqrt(B)`` for unrelated recordings.

    Raises:
        AudioError: a sequence shorter than the embedding dimension.
    """
    if min(len(query), len(reference)) < settings.embedding:
        raise AudioError(f"too few chroma frames for Qmax (needs at least {settings.embedding})")
    rotated = np.roll(reference, optimal_transposition(query, reference), axis=1)
    score = qmax(cross_recurrence(query, rotated, settings), settings.onset, settings.extension)
    return float(np.sqrt(len(reference)) / max(score, 1.0))


def fused_distance(cosine: float, qmax_dist: float, weight: float = 0.5) -> float:
    """The re-ranking distance of a candidate: ``max(cosine, 0) * qmax_dist ** weight`` from its
    fingerprint's cosine distance and its :func:`qmax_distance` (0 <= result; smaller is closer)."""
    return float(max(cosine, 0.0) * qmax_dist ** weight)


@dataclass
class ClassicCovers:
    """Engine: mono 22.05 kHz -> :class:`~songscope.result.CoverEmbedding` (2DFTM fingerprint,
    D = 456), with ``sequence`` = the block chroma that :meth:`rerank_distance` aligns.

    Attributes:
        qmax: settings of the re-ranking distance.
    """

    name: str
    qmax: QmaxSettings = field(default_factory=QmaxSettings)
    family: str = "classic"
    task: str = "covers"
    views: tuple[View, ...] = (View(ANALYSIS_SR, 1),)
    uses_stems: bool = False

    def predict(self, audio: Audio) -> CoverEmbedding:
        """The recording's fingerprint; ``frames`` holds the per-patch magnitudes (P, 456) and
        ``sequence`` the block chroma (ceil(T / block), 12) of :func:`block_chroma`.

        Raises:
            AudioError: fewer than :data:`MIN_BEATS` beats found, or silent chroma.
        """
        frames = chroma(audio)
        beats = beat_chroma(frames, track_beats(audio))
        if len(beats) < MIN_BEATS:
            raise AudioError(f"{audio.path or 'audio'}: too short for a cover fingerprint ({len(beats)} beats "
                             f"found in {audio.duration:.1f} s; needs at least {MIN_BEATS})")
        vector, patches = fingerprint(beats)
        return CoverEmbedding(vector, self.name, patches, block_chroma(frames, self.qmax.block))

    def rerank_distance(self, query: np.ndarray, reference: np.ndarray, cosine: float | None = None) -> float:
        """:func:`qmax_distance` of two ``CoverEmbedding.sequence`` arrays, fused with the
        fingerprints' cosine distance by :func:`fused_distance` when ``cosine`` is given."""
        distance = qmax_distance(query, reference, self.qmax)
        return distance if cosine is None else fused_distance(cosine, distance, self.qmax.weight)
