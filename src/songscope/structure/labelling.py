"""Functional labels of found sections: a Viterbi decoding of the label sequence under priors
learned from real songs' annotations (:mod:`songscope.structure.priors`), with evidence that any
recording carries: which sections repeat each other, where they lie, how long they are, and
(weakly) how loud they are relative to the rest.

The constants :data:`DETECTION`, :data:`EDGE_PENALTY`, :data:`HARMONY_BONUS` and the energy
weight are set by hand (chosen while inspecting synthetic songs, seeds 0-7 of
``benchmarks/structure_labels.py``), not fitted; the Harmonix tables carry everything else.

Model. The musical segments ``1..m`` (in time order) form a hidden-Markov chain over the 8
:data:`~songscope.structure.priors.MUSICAL_LABELS` with the priors' start, transition and end
probabilities. Each segment's evidence scores a label ``k`` by the sum of

- position: ``log P(k | bin of the segment centre) - log P(k)`` (the relative position in the
  music, as a likelihood ratio);
- duration: the Gaussian log-density of ``log(length / median segment length)`` under ``k``;
- repetition: ``log P(found recurring | k)`` when the segment's repetition group occurs as more
  than one run of segments, else ``log P(found once | k)``, where P(found recurring | k) mixes
  the priors' P(k recurs) with the grouping's assumed hit and false-alarm rates
  (:data:`DETECTION`); a group heard only as the first and the last segment (an intro
  returning as the outro) counts as not recurring;
- energy (weak, ``energy_weight``): ``+z`` for chorus, ``-z`` for intro, outro and break, where
  ``z`` is the segment's loudness minus the median, in units of 6 dB, clipped to [-2, 2];
- harmony match (optional): :data:`HARMONY_BONUS` for solo and inst when the segment is heard
  once and its harmony (for the classic engine: its bass line, bar for bar) repeats another
  group's while its sound does not (a solo over the verse chords).

Back-to-back segments of one repetition group are one section: they are decoded as one segment
(loudness averaged over their length) and share its label. Segments of one repetition group are
the same part, so they share a label: the labels of the
(up to ``max_tied``) largest groups that recur inside the music are searched exhaustively, each
assignment scored by a Viterbi pass with those segments pinned plus, per label,
``log P(number of runs | label)``; the best complete path wins. The first and the last segment
may leave their group's label at a cost (:data:`EDGE_PENALTY`), and a group heard only there
is not tied at all. Other segments are labelled freely by the same pass.
"""

from __future__ import annotations

import itertools

import numpy as np

from .priors import MUSICAL_LABELS, OCCURRENCE_CLASSES, LabelPriors, load_priors

__all__ = ["DETECTION", "EDGE_PENALTY", "ENERGY_SIGN", "HARMONY_BONUS", "count_runs", "decode_labels",
           "label_evidence"]

#: Direction of the weak energy cue per label (louder than the median favours +1 labels).
ENERGY_SIGN = {"chorus": 1.0, "intro": -1.0, "outro": -1.0, "break": -1.0}
#: (P(a recurring part is found recurring), P(a part heard once is found recurring)): the
#: grouping misses repetitions and makes spurious ones, so the repetition cue is never certain.
DETECTION = (0.8, 0.15)
#: log-score added to solo and inst for a non-recurring segment whose bass line replays another
#: group's bar for bar: log(0.5 / 0.025), reading P(match | solo or inst) as 0.5 (a solo or an
#: instrumental often runs over a verse's or chorus's changes) and P(match | any other label) as
#: 0.025 (a bridge brings new harmony); raised from 1.0 once the cue no longer fired on
#: melody-dominated chroma (the flip point on the development songs lay between 2 and 3)
HARMONY_BONUS = 3.0
#: log-score of giving the first or last segment another label than the rest of its group
EDGE_PENALTY = -2.0
_K = len(MUSICAL_LABELS)


def count_runs(groups: np.ndarray, members: np.ndarray) -> int:
    """Number of maximal runs of consecutive segments whose group (``groups``: (m,) group index
    per segment, in time order) is in ``members``."""
    inside = np.isin(groups, members)
    return int(inside[0]) + int(np.sum(inside[1:] & ~inside[:-1])) if len(inside) else 0


def label_evidence(groups: np.ndarray, starts: np.ndarray, ends: np.ndarray, loudness: np.ndarray,
                   harmony_match: np.ndarray, priors: LabelPriors, energy_weight: float = 0.5) -> np.ndarray:
    """(m, 8) log-score of every label for every segment from its own evidence (no sequence).

    Args:
        groups: (m,) repetition-group index per segment. starts, ends: (m,) times (s), in order.
        loudness: (m,) mean loudness (dB). harmony_match: (m,) bool, the segment's harmony repeats
            another group's. priors: the label priors. energy_weight: scale of the energy cue.
    """
    lengths = np.maximum(ends - starts, 1e-3)
    t0, t1 = float(starts[0]), float(ends[-1])
    bins = priors.position.shape[0]
    centre = (0.5 * (starts + ends) - t0) / max(t1 - t0, 1e-9)
    position = priors.position[np.clip((centre * bins).astype(int), 0, bins - 1)]
    marginal = np.log(np.exp(priors.position).mean(axis=0))
    x = np.log(lengths / np.median(lengths))[:, None]
    duration = -0.5 * ((x - priors.duration_mean) / priors.duration_std) ** 2 - np.log(priors.duration_std)
    edges_only = {g for g in groups.tolist() if set(np.flatnonzero(groups == g).tolist()) <= {0, len(groups) - 1}}
    repeated = np.array([count_runs(groups, np.array([g])) > 1 and g not in edges_only for g in groups])[:, None]
    observed = priors.recurs * DETECTION[0] + (1 - priors.recurs) * DETECTION[1]
    repetition = np.where(repeated, np.log(observed), np.log1p(-observed))
    z = np.clip((loudness - np.median(loudness)) / 6.0, -2.0, 2.0)[:, None]
    sign = np.array([ENERGY_SIGN.get(lab, 0.0) for lab in MUSICAL_LABELS])
    solo = np.array([lab in ("solo", "inst") for lab in MUSICAL_LABELS])
    harmony = HARMONY_BONUS * (np.asarray(harmony_match, bool)[:, None] & solo)
    return position - marginal + duration + repetition + energy_weight * sign * z + harmony


def _viterbi(emission: np.ndarray, priors: LabelPriors) -> tuple[np.ndarray, np.ndarray]:
    """Best scores (A,) and best paths (A, m) of A emission tables (A, m, K) under the chain."""
    count, m, _ = emission.shape
    delta = priors.start + emission[:, 0]
    back = np.zeros((count, m, _K), dtype=np.int64)
    for i in range(1, m):
        scores = delta[:, :, None] + priors.transition[None]
        back[:, i] = scores.argmax(axis=1)
        delta = scores.max(axis=1) + emission[:, i]
    delta = delta + priors.end
    path = np.zeros((count, m), dtype=np.int64)
    path[:, -1] = delta.argmax(axis=1)
    rows = np.arange(count)
    for i in range(m - 1, 0, -1):
        path[:, i - 1] = back[rows, i, path[:, i]]
    return delta.max(axis=1), path


def decode_labels(groups: np.ndarray, starts: np.ndarray, ends: np.ndarray, loudness: np.ndarray,
                  harmony_match: np.ndarray | None = None, priors: LabelPriors | None = None,
                  energy_weight: float = 0.5, max_tied: int = 4) -> list[str]:
    """Labels (:data:`MUSICAL_LABELS`) of consecutive musical segments.

    Args:
        groups: (m,) repetition-group index per segment (equal index = the same part repeated).
        starts, ends: (m,) segment times (s), in time order, tiling the music.
        loudness: (m,) mean loudness per segment (dB).
        harmony_match: (m,) bool, the segment's harmony repeats another group's (default: none).
        priors: label priors (default: the Harmonix Set tables).
        energy_weight: weight of the loudness cue (0 ignores loudness entirely).
        max_tied: at most this many recurring groups get one shared label by exhaustive search.

    Returns:
        m label names. A single segment (an excerpt) is ``verse``.
    """
    groups = np.asarray(groups)
    m = len(groups)
    if m == 1:
        return ["verse"]
    starts, ends, loudness = (np.asarray(x, dtype=float) for x in (starts, ends, loudness))
    match = np.zeros(m, dtype=bool) if harmony_match is None else np.asarray(harmony_match, dtype=bool)
    run_start = np.r_[True, groups[1:] != groups[:-1]]
    first = np.flatnonzero(run_start)
    if len(first) < m:  # a part repeated back to back is one section: decode the runs, then expand
        run = np.cumsum(run_start) - 1
        lengths = np.maximum(ends - starts, 1e-9)
        run_loudness = np.bincount(run, lengths * loudness) / np.bincount(run, lengths)
        labels = decode_labels(groups[first], starts[first], ends[np.r_[first[1:] - 1, m - 1]], run_loudness,
                               np.bincount(run, match) > 0, priors, energy_weight, max_tied)
        return [labels[r] for r in run]
    priors = priors or load_priors()
    evidence = label_evidence(groups, starts, ends, loudness, match, priors, energy_weight)
    interior = set(groups[1:-1].tolist())
    recurring = [g for g in dict.fromkeys(groups.tolist())
                 if count_runs(groups, np.array([g])) > 1 and g in interior]
    size = {g: float(np.sum((ends - starts)[groups == g])) for g in recurring}
    tied = sorted(recurring, key=lambda g: -size[g])[:max_tied]
    assignments = np.array(list(itertools.product(range(_K), repeat=len(tied))), dtype=np.int64)
    emission = np.repeat(evidence[None], len(assignments), axis=0)
    edge = np.zeros(m, dtype=bool)
    edge[[0, -1]] = True  # the first and last segment may leave their group's label (an intro built on the verse)
    for j, g in enumerate(tied):
        pinned = np.full((len(assignments), _K), -np.inf)
        pinned[np.arange(len(assignments)), assignments[:, j]] = 0.0
        emission[:, (groups == g) & ~edge] += pinned[:, None, :]
        emission[:, (groups == g) & edge] += np.maximum(pinned, EDGE_PENALTY)[:, None, :]
    scores, paths = _viterbi(emission, priors)
    best = int(np.argmax(scores + _occurrence_scores(groups, tied, assignments, priors)))
    return [MUSICAL_LABELS[k] for k in paths[best]]


def _occurrence_scores(groups: np.ndarray, tied: list, assignments: np.ndarray, priors: LabelPriors) -> np.ndarray:
    """(A,) sum over labels of log P(number of runs | label) of each assignment of labels to the
    ``tied`` groups (runs counted over all segments of the groups given that label)."""
    subsets = np.array([count_runs(groups, np.array([g for j, g in enumerate(tied) if mask >> j & 1]))
                        for mask in range(2 ** len(tied))])
    weights = 1 << np.arange(len(tied))
    out = np.zeros(len(assignments))
    for k in range(_K):
        mask = ((assignments == k) * weights).sum(axis=1)
        runs = np.clip(subsets[mask], 1, OCCURRENCE_CLASSES)
        out += np.where(mask > 0, priors.occurrences[k, runs - 1], 0.0)
    return out
