"""The field's standard metrics, computed with mir_eval, one function per task.

Every function takes a reference and an estimate and returns a flat dict of floats, so that
per-track rows can be averaged and printed the same way for every task.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from ..errors import InputError
from ..key.labels import key_name, key_signature, parse_key
from ..conventions import HARMONIX_LABELS

__all__ = ["beat_metrics", "tempo_metrics", "structure_metrics", "key_metrics", "cover_metrics", "ranking_metrics",
           "si_sdr", "framewise_sdr", "separation_metrics", "usdr"]


def _mir_eval():
    try:
        import mir_eval
    except ImportError:
        raise InputError("evaluation needs mir_eval: pip install 'songscope[eval]'") from None
    return mir_eval


def beat_metrics(reference: np.ndarray, estimate: np.ndarray, reference_downbeats: np.ndarray | None = None,
                 estimate_downbeats: np.ndarray | None = None, trim: bool = False) -> dict[str, float]:
    """Beat F-measure (70 ms window), CMLt and AMLt; downbeat F-measure when both downbeat
    lists are given.

    Args:
        reference, estimate: beat times (s), (N,) and (M,).
        reference_downbeats, estimate_downbeats: downbeat times (s).
        trim: drop beats in the first 5 s (mir_eval's convention for full songs; off for
            short excerpts).
    """
    mir_eval = _mir_eval()

    def prepare(times):
        times = np.sort(np.asarray(times, dtype=float))
        return mir_eval.beat.trim_beats(times) if trim else times

    ref, est = prepare(reference), prepare(estimate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = {"F": mir_eval.beat.f_measure(ref, est)}
        _, out["CMLt"], _, out["AMLt"] = mir_eval.beat.continuity(ref, est)
        if reference_downbeats is not None and estimate_downbeats is not None:
            out["downbeat_F"] = mir_eval.beat.f_measure(prepare(reference_downbeats), prepare(estimate_downbeats))
    return {k: float(v) for k, v in out.items()}


def tempo_metrics(reference_bpm: float, estimate_bpm: float, tolerance: float = 0.04) -> dict[str, float]:
    """Tempo accuracy: Acc1 (within ``tolerance`` of the reference) and Acc2 (also at 2, 3,
    1/2 or 1/3 of it), as 0/1 per track."""
    if reference_bpm <= 0:
        raise InputError("reference tempo must be positive")
    if estimate_bpm is None or estimate_bpm <= 0:
        return {"Acc1": 0.0, "Acc2": 0.0}
    ok = [abs(estimate_bpm - f * reference_bpm) <= tolerance * f * reference_bpm for f in (1, 2, 3, 1 / 2, 1 / 3)]
    return {"Acc1": float(ok[0]), "Acc2": float(any(ok))}


def _frame_labels(intervals: np.ndarray, labels: Sequence[str], times: np.ndarray) -> list[str]:
    out = []
    for t in times:
        hit = np.nonzero((intervals[:, 0] <= t) & (t < intervals[:, 1]))[0]
        out.append(labels[hit[0]] if len(hit) else "end")
    return out


def structure_metrics(reference_intervals: np.ndarray, reference_labels: Sequence[str],
                      estimate_intervals: np.ndarray, estimate_labels: Sequence[str],
                      frame_size: float = 0.1) -> dict[str, float]:
    """Boundary hit rates (HR.5F, HR3F), pairwise frame clustering F (PWF), normalised
    conditional entropy F (Sf), and frame-level accuracy of functional labels.

    Args:
        reference_intervals, estimate_intervals: (n, 2) section start/end times (s).
        reference_labels, estimate_labels: one label per section; label accuracy compares
            them as functions (lower case, HARMONIX_LABELS), the other metrics only as groups.
        frame_size: frame hop (s) of the frame-based metrics.
    """
    mir_eval = _mir_eval()
    ref_i, est_i = np.asarray(reference_intervals, float), np.asarray(estimate_intervals, float)
    if ref_i.size == 0 or est_i.size == 0:
        raise InputError("structure evaluation needs at least one section on both sides")
    ref_l, est_l = [str(x).lower() for x in reference_labels], [str(x).lower() for x in estimate_labels]
    end = ref_i[-1, 1]
    est_i, est_l = mir_eval.util.adjust_intervals(est_i, est_l, t_min=0.0, t_max=end)
    ref_i, ref_l = mir_eval.util.adjust_intervals(ref_i, ref_l, t_min=0.0, t_max=end)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, _, hr05 = mir_eval.segment.detection(ref_i, est_i, window=0.5, trim=True)
        _, _, hr3 = mir_eval.segment.detection(ref_i, est_i, window=3.0, trim=True)
        _, _, pwf = mir_eval.segment.pairwise(ref_i, ref_l, est_i, est_l, frame_size=frame_size)
        _, _, sf = mir_eval.segment.nce(ref_i, ref_l, est_i, est_l, frame_size=frame_size)
    times = np.arange(0.0, end, frame_size)
    known = set(HARMONIX_LABELS)
    ref_frames, est_frames = _frame_labels(ref_i, ref_l, times), _frame_labels(est_i, est_l, times)
    scored = [(r, e) for r, e in zip(ref_frames, est_frames) if r in known]
    accuracy = float(np.mean([r == e for r, e in scored])) if scored else float("nan")
    return {"HR.5F": float(hr05), "HR3F": float(hr3), "PWF": float(pwf), "Sf": float(sf),
            "label_accuracy": accuracy}


def key_metrics(reference: str, estimate: str) -> dict[str, float]:
    """mir_eval's weighted key score (1 exact, 0.5 fifth, 0.3 relative, 0.2 parallel), exact
    accuracy and 12-class key-signature accuracy (relative major/minor counted as one).
    An estimate may be a key signature only (``"C major/A minor"``): then only the last
    applies and the others are NaN."""
    mir_eval = _mir_eval()
    ref = key_name(*parse_key(reference))
    if "/" in estimate:
        signature_ok = estimate.strip() == key_signature(*parse_key(ref))
        return {"weighted": float("nan"), "exact": float("nan"), "key_signature": float(signature_ok)}
    est = key_name(*parse_key(estimate))
    return {"weighted": float(mir_eval.key.weighted_score(ref, est)), "exact": float(ref == est),
            "key_signature": float(key_signature(*parse_key(ref)) == key_signature(*parse_key(est)))}


def cover_metrics(distances: np.ndarray, works: Sequence[str], k: int = 10) -> dict[str, float]:
    """Cover-song identification: every track queries all others.

    Args:
        distances: (n, n) query-by-candidate distances (smaller = more similar).
        works: work id of every track; tracks of the same work are the relevant answers.
        k: cut-off of precision at k.

    Returns:
        mAP (mean average precision), MR1 (mean rank of the first correct answer, 1 = best)
        and P@k, over the queries that have at least one other version.
    """
    d = np.asarray(distances, dtype=float)
    if d.ndim != 2 or d.shape[0] != d.shape[1] or d.shape[0] != len(works):
        raise InputError("distances must be an n x n matrix with one work id per track")
    return ranking_metrics(d, works, works, np.eye(len(works), dtype=bool), k)


def ranking_metrics(distances: np.ndarray, query_works: Sequence, ref_works: Sequence,
                    exclude: np.ndarray | None = None, k: int = 10) -> dict[str, float]:
    """Cover-song identification of queries against a separate set of references.

    Args:
        distances: (queries, references) distances (smaller = more similar).
        query_works, ref_works: work id of every query and every reference; references of the
            query's work are the relevant answers.
        exclude: optional (queries, references) bool mask of pairs left out of the ranking (a
            query's own recording among the references).
        k: cut-off of precision at k.

    Returns:
        mAP, MR1 (mean rank of the first correct answer, 1 = best) and P@k, over the queries
        with at least one relevant reference.

    Raises:
        InputError: shapes that disagree, or no query with a relevant reference.
    """
    d = np.asarray(distances, dtype=float)
    query_works, ref_works = np.asarray(query_works), np.asarray(ref_works)
    skip = np.zeros(d.shape, dtype=bool) if exclude is None else np.asarray(exclude, dtype=bool)
    if d.ndim != 2 or d.shape != (len(query_works), len(ref_works)) or skip.shape != d.shape:
        raise InputError("distances must be a queries x references matrix with one work id per query and reference")
    aps, first, precision = [], [], []
    for q in range(len(query_works)):
        order = [c for c in np.argsort(d[q], kind="stable") if not skip[q, c]]
        relevant = ref_works[order] == query_works[q]
        if not relevant.any():
            continue
        ranks = np.nonzero(relevant)[0] + 1
        aps.append(float(np.mean(np.arange(1, len(ranks) + 1) / ranks)))
        first.append(float(ranks[0]))
        precision.append(float(relevant[:k].sum() / k))
    if not aps:
        raise InputError("no work has two versions: nothing to evaluate")
    return {"mAP": float(np.mean(aps)), "MR1": float(np.mean(first)), f"P@{k}": float(np.mean(precision))}


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR (dB) of an estimate (N,) or (N, channels) of ``reference``: the
    reference scaled to best fit the estimate, against what is left. ``inf`` when exact,
    NaN for a silent reference."""
    s, e = np.asarray(reference, np.float64).ravel(), np.asarray(estimate, np.float64).ravel()
    if s.shape != e.shape:
        raise InputError(f"reference and estimate lengths differ ({s.size} vs {e.size} samples)")
    energy = float(s @ s)
    if energy == 0.0:
        return float("nan")
    target = (e @ s) / energy * s
    residual = float(np.sum((e - target) ** 2))
    return float("inf") if residual == 0.0 else float(10 * np.log10(np.sum(target ** 2) / residual))


def usdr(reference: np.ndarray, estimate: np.ndarray, delta: float = 1e-7) -> float:
    """Utterance-level SDR of the Music Demixing Challenge (dB): ``10 log10((sum ref^2 + delta) /
    (sum (ref - est)^2 + delta))`` over the whole track, all channels; the challenge averages it
    over tracks (uSDR).

    Args:
        reference, estimate: (N,) or (N, channels) samples of equal shape.
    """
    ref, est = np.asarray(reference, np.float64), np.asarray(estimate, np.float64)
    if ref.shape != est.shape:
        raise InputError(f"reference and estimate shapes differ ({ref.shape} vs {est.shape})")
    return float(10 * np.log10((np.sum(ref ** 2) + delta) / (np.sum((ref - est) ** 2) + delta)))


def framewise_sdr(references: np.ndarray, estimates: np.ndarray, window: int, hop: int | None = None) -> np.ndarray:
    """SDR of every frame, as BSSEval v4 defines it (museval's ``bss_eval_images`` with
    time-invariant filters): ``10 log10(sum ref^2 / sum (est - ref)^2)`` over each frame of each
    source. The distortion filters of BSSEval enter ISR, SIR and SAR only, never the images'
    SDR, so none are computed; the numbers equal museval's (tested) in a small fraction of its
    time and memory. As museval: frames of ``window`` samples every ``hop`` (the remainder
    dropped; one frame when the track is shorter than a window), a frame in which any reference
    or estimated source is silent is NaN for every source, an exact frame is ``inf``.

    Args:
        references, estimates: (sources, N, channels) samples.
        window, hop: frame length and step (samples); hop defaults to the window.

    Returns:
        (sources, frames) SDR in dB.
    """
    ref, est = np.asarray(references), np.asarray(estimates)
    hop = hop or window
    n = ref.shape[1]
    frames = int((n - window + hop) // hop) if window < n else 1
    out = np.empty((ref.shape[0], frames))
    for t in range(frames):
        span = slice(t * hop, min(t * hop + window, n)) if window < n else slice(0, n)
        r, e = ref[:, span].astype(np.float64), est[:, span].astype(np.float64)
        if np.any(np.all(r.sum(axis=2) == 0, axis=1)) or np.any(np.all(e.sum(axis=2) == 0, axis=1)):
            out[:, t] = np.nan
            continue
        signal, error = np.sum(r ** 2, axis=(1, 2)), np.sum((e - r) ** 2, axis=(1, 2))
        with np.errstate(divide="ignore"):
            out[:, t] = np.where(error == 0, np.inf, 10 * np.log10(signal / np.where(error == 0, 1, error)))
    return out


def separation_metrics(references: dict[str, np.ndarray], estimates: dict[str, np.ndarray],
                       sample_rate: int = 44100) -> dict[str, float]:
    """Per stem: ``SDR`` of BSSEval v4 (1 s frames, median over the frames where no source is
    silent; :func:`framewise_sdr`; the median of it over tracks is the challenges' chunk-level
    cSDR), ``uSDR`` (:func:`usdr`; its mean over tracks is the Music Demixing Challenge's) and
    ``SI-SDR`` over the whole track.

    Args:
        references, estimates: stem name -> (N, channels) samples; the same stems on both
            sides (the estimates are cut or zero-padded to the references' length).
    """
    stems = sorted(references)
    missing = [name for name in stems if name not in estimates]
    if missing:
        raise InputError(f"estimate lacks stems: {', '.join(missing)}")
    n = len(references[stems[0]])
    ref = np.stack([np.atleast_2d(np.asarray(references[k], np.float32).T).T for k in stems])
    est = np.zeros_like(ref)
    for i, k in enumerate(stems):
        part = np.atleast_2d(np.asarray(estimates[k], np.float32).T).T[:n]
        est[i, :len(part)] = part
    sdr = framewise_sdr(ref, est, int(sample_rate))
    out = {}
    for i, name in enumerate(stems):
        frames = sdr[i][~np.isnan(sdr[i])]
        out[f"SDR_{name}"] = float(np.median(frames)) if frames.size else float("nan")
        out[f"uSDR_{name}"] = usdr(ref[i], est[i])
        out[f"SI-SDR_{name}"] = si_sdr(ref[i], est[i])
    return out
