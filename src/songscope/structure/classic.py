"""Classic structure engine: boundaries from self-similarity novelty, labels from repetition.

The method, step by step:

1. **Silence.** Frames quieter than 50 dB below the loudest percentile (or -70 dBFS) at the
   start and end of the track become the ``start`` and ``end`` segments.
2. **Beat-synchronous features.** For every beat interval (a 0.5 s grid when fewer than
   8 beats were found): mean chroma (square-root compressed, unit norm), mean MFCC 1-12
   (standardised over the track) and mean loudness (dB). Eight consecutive beats are
   stacked (time-delay embedding) so that similarity compares short sequences, not
   single chords.
3. **Boundaries.** Cosine self-similarity of the stacked chroma and of the stacked timbre,
   each standardised, then averaged, is scanned with Foote's checkerboard kernel
   (Gaussian taper) at two sizes, 8 and 16 beats. That novelty is averaged with a
   repetition novelty (structure features, Serrà et al. 2014: changes in the time-lag
   recurrence pattern; tracks of up to 3000 beats). Peaks above the median + 0.5 std, at
   least 8 beats apart, are boundaries; each is snapped to the nearest downbeat within
   half a bar.
4. **Grouping.** Segments are compared pairwise by how well their stacked features cover
   each other (:func:`_coverage`: every beat's best in-order match in the other segment, both
   ways, so segments of unequal length or with shifted boundaries still match where their
   music repeats); average-linkage clustering at similarity 0.8 groups repetitions of the
   same part. After labelling, neighbours of the same group
   and label merge (a phrase repeated back to back is one section).
5. **Labels** (``HARMONIX_LABELS``): :func:`songscope.structure.labelling.decode_labels`
   decodes the label sequence with priors learned from the Harmonix Set's published
   annotations (start, transition and end probabilities of the labels, label by relative
   position, relative duration, how often each label recurs) from the segments' repetition
   groups, positions and durations, with relative loudness as a weak cue only and a
   harmony match (a segment heard once whose bass line, the bar-synchronous pitch classes of
   30-165 Hz, replays another group's bar for bar over at least 4 bars at mean cosine > 0.9
   while its sound differs: a solo or an instrumental over the song's chords); segments of one
   recurring group share a label. A recording that is one musical segment (an excerpt)
   is ``verse``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from ..audio.features import Features, band_chroma
from ..conventions import HARMONIX_LABELS
from ..result import Segment
from .labelling import count_runs, decode_labels

__all__ = ["StructureEstimate", "segment_classic", "silence_bounds"]

_EMBED = 8
_MIN_BEATS = 8
_MAX_REPETITION_BEATS = 3000  # the recurrence plot is n x n; longer inputs use Foote novelty only
_BASS_HZ = (30.0, 165.0)  # the bass register (B0-E3) whose pitch classes follow the chord roots
_BASS_MATCH = 0.9  # bar-for-bar bass-line similarity above which two segments share their harmony
_MIN_HARMONY_BARS = 4


def _scaled(x: np.ndarray) -> np.ndarray:
    """``x / max(x)`` (zeros stay zeros)."""
    peak = x.max(initial=0)
    return x / peak if peak > 0 else x


@dataclass
class StructureEstimate:
    """Sections of a recording with the curves behind them.

    Attributes:
        segments: the sections, covering [0, duration] without gaps.
        novelty: (T,) boundary strength per frame in [0, 1].
        label_activations: (10, T) per-frame label indicator in ``HARMONIX_LABELS`` order.
        groups: group index of each segment (-1 for start/end), same order as segments.
    """

    segments: list[Segment]
    novelty: np.ndarray
    label_activations: np.ndarray
    groups: list[int]


def silence_bounds(features: Features) -> tuple[float, float]:
    """Times (s) where sound starts and stops: frames above the silence threshold."""
    db = features.rms_db
    threshold = max(np.percentile(db, 99) - 50.0, -70.0)
    loud = np.nonzero(db > threshold)[0]
    if loud.size == 0:
        return 0.0, 0.0
    return loud[0] / features.fps, (loud[-1] + 1) / features.fps


def _grid(beats: np.ndarray, start: float, end: float) -> np.ndarray:
    """Analysis grid (times, s) spanning [start, end]: the beats inside, or 0.5 s steps."""
    inside = beats[(beats > start) & (beats < end)]
    if len(inside) < _MIN_BEATS:
        inside = np.arange(start, end, 0.5)[1:]
    return np.unique(np.r_[start, inside, end])


def _pool(frames: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean of ``frames`` (T, D) between consecutive frame indices ``edges``: (len-1, D)."""
    csum = np.concatenate([np.zeros((1, frames.shape[1])), np.cumsum(frames, axis=0, dtype=np.float64)])
    counts = np.maximum(np.diff(edges), 1)[:, None]
    return (csum[edges[1:]] - csum[edges[:-1]]) / counts


def _unit(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-9)


def _embed(x: np.ndarray, width: int = _EMBED) -> np.ndarray:
    """Stack rows ``i - width // 2 .. i + width // 2 - 1`` around each row (edge-padded, so
    the stack is centred on row i and a change stays where it happens), unit-normalised."""
    before, after = width // 2, width - width // 2 - 1
    padded = np.concatenate([np.repeat(x[:1], before, axis=0), x, np.repeat(x[-1:], after, axis=0)])
    return _unit(np.concatenate([padded[i:i + len(x)] for i in range(width)], axis=1))


def _band_similarity(emb: list[np.ndarray], reach: int) -> np.ndarray:
    """Self-similarity near the diagonal, S[i, i + d] for d in [-reach, reach]: (n, 2 * reach + 1),
    NaN outside the matrix. Each feature's cosine similarities are standardised (z-scores over
    the band) before averaging, so that a feature whose similarities are all high (chroma
    within one key) contributes contrast, not an offset."""
    n = len(emb[0])
    total = np.zeros((n, 2 * reach + 1))
    for e in emb:
        band = np.full((n, 2 * reach + 1), np.nan)
        for d in range(-reach, reach + 1):
            lo, hi = max(0, -d), min(n, n - d)
            if hi > lo:
                band[lo:hi, d + reach] = (e[lo:hi] * e[lo + d:hi + d]).sum(axis=1)
        total += (band - np.nanmean(band)) / (np.nanstd(band) + 1e-9)
    return total / len(emb)


def _novelty(band: np.ndarray, half: int) -> np.ndarray:
    """Foote checkerboard novelty with a Gaussian-tapered kernel of ``2 * half`` beats."""
    n, width = band.shape
    reach = width // 2
    offsets = np.arange(-half, half)
    taper = np.exp(-0.5 * ((offsets + 0.5) / (0.5 * half)) ** 2)
    filled = np.nan_to_num(band, nan=0.0)  # outside the track: average similarity (z-score 0)
    out = np.zeros(n)
    rows = np.arange(n)
    for a in offsets:
        src = rows + a
        ok = (src >= 0) & (src < n)
        for b in offsets:
            sign = 1.0 if (a < 0) == (b < 0) else -1.0
            out[ok] += sign * taper[a + half] * taper[b + half] * filled[src[ok], b - a + reach]
    return np.maximum(out / (taper.sum() ** 2), 0.0)


def _repetition_novelty(emb: np.ndarray, neighbours: float = 0.05, sigma: float = 4.0) -> np.ndarray:
    """Structure-feature novelty (Serrà et al. 2014), (n,) in [0, 1].

    A mutual k-nearest-neighbour recurrence plot (k = 5 % of the beats) is turned into a
    circular time-lag matrix, smoothed over time (Gaussian, ``sigma`` beats); the novelty is
    the squared change of a row from one beat to the next: where the pattern of repetitions
    changes, a section boundary is likely.
    """
    n = len(emb)
    sim = emb @ emb.T
    np.fill_diagonal(sim, -np.inf)
    k = max(3, int(neighbours * n))
    kth = np.partition(sim, n - k, axis=1)[:, n - k][:, None]
    rec = sim >= kth
    rec &= rec.T
    rows = np.arange(n)[:, None]
    lag = rec[rows, (rows + np.arange(n)[None, :]) % n].astype(np.float32)
    lag = gaussian_filter1d(lag, sigma, axis=0, mode="nearest")
    novelty = np.r_[0.0, np.sum(np.diff(lag, axis=0) ** 2, axis=1)]
    peak = novelty.max()
    return novelty / peak if peak > 0 else novelty


def _coverage(a: np.ndarray, b: np.ndarray, reach: int = 4) -> float:
    """How well two unit-row sequences (beats x D) cover each other, in [-1, 1].

    Beat similarities are averaged along diagonals over ``2 * reach + 1`` beats (a match must
    hold for a stretch of music, in order), then every beat of ``a`` takes its best match
    anywhere in ``b`` and vice versa; the result is the mean of the two directions' mean best
    matches. Segments of different lengths or shifted boundaries still match where their
    music repeats (half a chorus inside a whole one, a verse cut a bar late), while a segment
    holding a second, different part matches only in part.
    """
    sim = a @ b.T
    rows, cols = sim.shape
    padded = np.pad(sim, reach, mode="edge")
    smooth = sum(padded[reach + k:reach + k + rows, reach + k:reach + k + cols]
                 for k in range(-reach, reach + 1)) / (2 * reach + 1)
    return 0.5 * float(smooth.max(axis=1).mean() + smooth.max(axis=0).mean())


def _bass_bars(features: Features, bars: np.ndarray) -> np.ndarray:
    """(len(bars) - 1, 12) bass line per bar: the pitch-class energy of the bass register
    between consecutive bar times (s), square-root compressed and unit-normalised (level-free), the
    song's mean removed, unit rows."""
    edges = np.maximum.accumulate(np.clip(np.round(bars * features.fps).astype(int), 0, features.num_frames))
    bass = _unit(np.sqrt(np.maximum(_pool(band_chroma(features, *_BASS_HZ), edges), 0)))
    return _unit(bass - bass.mean(axis=0))


def _same_harmony(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether the shorter of two bar sequences (bars x 12) recurs bar for bar inside the longer
    (best mean similarity over whole-bar placements above :data:`_BASS_MATCH`; both at least
    :data:`_MIN_HARMONY_BARS` bars)."""
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) < _MIN_HARMONY_BARS:
        return False
    return max(float((short * long_[s:s + len(short)]).sum(axis=1).mean())
               for s in range(len(long_) - len(short) + 1)) > _BASS_MATCH


def _harmony_match(features: Features, downbeats: np.ndarray, grid: np.ndarray, cuts: np.ndarray,
                   groups: np.ndarray, bar: float) -> np.ndarray:
    """(m,) bool per segment ``cuts[i]..cuts[i + 1]`` (s): its group is heard as one run only and
    its bass line replays another group's segment bar for bar (:func:`_same_harmony`). Bars run
    from the downbeats (every 4th time of ``grid`` when there are too few); ``bar`` (s) is the
    tolerance unit for a bar belonging to a segment."""
    start, end = float(cuts[0]), float(cuts[-1])
    bars = downbeats[(downbeats > start - 0.5 * bar) & (downbeats < end - 0.5 * bar)]
    if len(bars) < _MIN_HARMONY_BARS:
        bars = grid[::4][:-1]
    bars = np.r_[bars, end]
    bass = _bass_bars(features, bars)
    lines = [bass[(bars[:-1] >= a - 0.25 * bar) & (bars[:-1] < b - 0.25 * bar)] for a, b in zip(cuts[:-1], cuts[1:])]
    once = {g for g in groups.tolist() if count_runs(groups, np.array([g])) == 1}
    return np.array([groups[i] in once and any(groups[j] != groups[i] and _same_harmony(lines[i], lines[j])
                                               for j in range(len(groups))) for i in range(len(groups))])


def _snap(boundaries: np.ndarray, downbeats: np.ndarray, bar: float) -> np.ndarray:
    if len(downbeats) == 0:
        return boundaries
    out = []
    for t in boundaries:
        nearest = downbeats[np.argmin(np.abs(downbeats - t))]
        out.append(nearest if abs(nearest - t) <= 0.5 * bar else t)
    return np.unique(out)


def segment_classic(features: Features, beats: np.ndarray, downbeats: np.ndarray,
                    duration: float) -> StructureEstimate:
    """Find and label the sections of a recording.

    Args:
        features: frame features at ``features.fps``.
        beats: (N,) beat times (s); downbeats: (M,) downbeat times (s).
        duration: track length (s).

    Returns:
        :class:`StructureEstimate` whose segments tile [0, duration].
    """
    fps = features.fps
    total = features.num_frames
    sound_start, sound_end = silence_bounds(features)
    segments: list[Segment] = []
    groups_out: list[int] = []
    novelty_frames = np.zeros(total)
    if sound_start > 0.05:
        segments.append(Segment(0.0, sound_start, "start"))
        groups_out.append(-1)
    if sound_end - sound_start >= 1.0:
        grid = _grid(np.asarray(beats, dtype=float), sound_start, sound_end)
        edges = np.clip(np.round(grid * fps).astype(int), 0, total)
        edges = np.maximum.accumulate(edges)
        chroma = _unit(np.sqrt(np.maximum(_pool(features.chroma, edges), 0)))
        mfcc = _pool(features.mfcc[:, 1:], edges)
        mfcc = (mfcc - mfcc.mean(axis=0)) / (mfcc.std(axis=0) + 1e-6)
        loud = _pool(features.rms_db[:, None], edges)[:, 0]
        emb_c, emb_t = _embed(chroma), _embed(_unit(mfcc))
        n = len(chroma)
        novelty = np.zeros(n)
        if n >= 2 * _MIN_BEATS:
            band = _band_similarity([emb_c, emb_t], 32)
            novelty = _scaled(_novelty(band, 8) + _novelty(band, 16))
            if n <= _MAX_REPETITION_BEATS:
                novelty = 0.5 * novelty + 0.5 * _repetition_novelty(_unit(np.hstack([emb_c, emb_t])))
        peaks, _ = find_peaks(novelty, height=np.median(novelty) + 0.5 * novelty.std(), distance=_MIN_BEATS)
        peaks = peaks[(peaks >= _MIN_BEATS // 2) & (peaks <= n - _MIN_BEATS // 2)]
        beat_len = float(np.median(np.diff(grid))) if len(grid) > 1 else 0.5
        bar = beat_len * 4
        bounds = _snap(grid[peaks], np.asarray(downbeats, dtype=float), bar)
        bounds = bounds[(bounds > sound_start + 2 * beat_len) & (bounds < sound_end - 2 * beat_len)]
        cuts = np.r_[sound_start, bounds, sound_end]
        idx = np.searchsorted(grid, cuts[:-1], side="right") - 1
        idx_end = np.maximum(np.searchsorted(grid, cuts[1:], side="left"), idx + 1)
        parts = [(int(a), int(b)) for a, b in zip(idx, idx_end)]
        m = len(parts)
        sim = np.eye(m)
        for i in range(m):
            for j in range(i + 1, m):
                (a0, a1), (b0, b1) = parts[i], parts[j]
                sc = _coverage(emb_c[a0:a1], emb_c[b0:b1])
                st = _coverage(emb_t[a0:a1], emb_t[b0:b1])
                sim[i, j] = sim[j, i] = 0.5 * (sc + st)
        if m > 1:
            dist = np.clip(1.0 - sim[np.triu_indices(m, 1)], 0, None)
            groups = fcluster(linkage(dist, method="average"), t=0.2, criterion="distance") - 1
        else:
            groups = np.zeros(1, dtype=int)
        seg_loud = np.array([loud[a:b].mean() for a, b in parts])
        harmony_match = _harmony_match(features, np.asarray(downbeats, dtype=float), grid, cuts, groups, bar)
        labels = decode_labels(groups, cuts[:-1], cuts[1:], seg_loud, harmony_match)
        for a, b, lab, g in zip(cuts[:-1], cuts[1:], labels, groups):
            if groups_out and groups_out[-1] == g and segments[-1].label == lab:
                segments[-1].end = float(b)  # a phrase repeated back to back is one section
                continue
            segments.append(Segment(float(a), float(b), lab))
            groups_out.append(int(g))
        novelty_frames = np.interp(np.arange(total) / fps, grid[:-1], novelty, left=0, right=0)
    elif sound_end > sound_start:
        segments.append(Segment(sound_start, sound_end, "inst"))
        groups_out.append(0)
    last = segments[-1].end if segments else 0.0
    if duration - last > 0.05 or not segments:
        segments.append(Segment(last, duration, "end"))
        groups_out.append(-1)
    segments[-1].end = duration
    label_act = np.zeros((len(HARMONIX_LABELS), total), dtype=np.float32)
    for seg in segments:
        lo, hi = int(round(seg.start * fps)), int(round(seg.end * fps))
        label_act[HARMONIX_LABELS.index(seg.label), lo:hi] = 1.0
    return StructureEstimate(segments, novelty_frames.astype(np.float32), label_act, groups_out)
