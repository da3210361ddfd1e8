"""Build ``src/songscope/structure/harmonix_priors.json`` from Harmonix Set segment annotations.

The Harmonix Set (Nieto et al., ISMIR 2019; github.com/urinieto/harmonixset, MIT licence) publishes
its section annotations as text: ``dataset/segments/NNNN_name.txt``, one ``time label`` row per
section start and a closing ``end`` row. No audio is needed or used. Point this script at a folder
holding such files (a copy of ``dataset/segments`` or any subset of it)::

    python tools/harmonix_priors.py FOLDER [--out src/songscope/structure/harmonix_priors.json]

Raw names are merged into songscope's (allin1's) ten ``HARMONIX_LABELS`` by
:func:`songscope.structure.allinone.targets.merge_label` (``prechorus`` -> verse, ``postchorus`` ->
chorus, ``transition`` -> bridge, ``instrumental`` -> inst, ``silence`` -> start, ...). The
``start``/``end`` silences are dropped; the statistics describe the sequence of the 8 musical
labels of each song:

- ``start`` / ``end``: probability of the first / last musical section's label;
- ``transition``: P(next label | label), self-transitions included (chorus chorus is common);
- ``position``: P(label | relative position of the section centre in the music), ``bins`` bins;
- ``log_duration``: mean and standard deviation of log(section length / the song's median
  section length) per label;
- ``recurs``: P(the label occurs more than once in the song | a section has the label);
- ``occurrences``: P(number of runs of the label in a song = 1, 2, 3, 4, 5+ | it occurs), a run
  being consecutive sections of the same label.

Every count gets ``--alpha`` (0.5) added before normalising, so no probability is 0. The output
is written atomically and records the files (their ids) and the number of sections read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from songscope.atomic import write_text
from songscope.errors import InputError, OutputError
from songscope.structure.allinone.dataset import read_harmonix_segments
from songscope.structure.allinone.targets import merge_label
from songscope.structure.priors import MUSICAL_LABELS, OCCURRENCE_CLASSES, PRIORS_PATH

BINS = 10


def musical_sections(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, label) of the musical sections of one Harmonix segment file (merged labels,
    start/end silences and empty sections dropped)."""
    times, names = read_harmonix_segments(path)
    out = []
    for start, end, name in zip(times[:-1], times[1:], names):
        label = merge_label(name)
        if label in MUSICAL_LABELS and end > start:
            out.append((float(start), float(end), label))
    return out


def priors(songs: list[list[tuple[float, float, str]]], alpha: float = 0.5) -> dict:
    """The prior tables of :mod:`songscope.structure.priors` from the songs' musical sections."""
    k = len(MUSICAL_LABELS)
    index = {lab: i for i, lab in enumerate(MUSICAL_LABELS)}
    start, end = np.full(k, alpha), np.full(k, alpha)
    trans = np.full((k, k), alpha)
    position = np.full((BINS, k), alpha)
    durations: list[list[float]] = [[] for _ in range(k)]
    recurs = np.full((k, 2), alpha)  # [once, more than once]
    occurrences = np.full((k, OCCURRENCE_CLASSES), alpha)
    for sections in songs:
        labels = [index[lab] for *_, lab in sections]
        start[labels[0]] += 1
        end[labels[-1]] += 1
        for a, b in zip(labels[:-1], labels[1:]):
            trans[a, b] += 1
        t0, t1 = sections[0][0], sections[-1][1]
        lengths = np.array([e - s for s, e, _ in sections])
        median = float(np.median(lengths))
        for (s, e, _), lab, length in zip(sections, labels, lengths):
            centre = (0.5 * (s + e) - t0) / (t1 - t0)
            position[min(int(centre * BINS), BINS - 1), lab] += 1
            durations[lab].append(float(np.log(length / median)))
            recurs[lab, int(labels.count(lab) > 1)] += 1
        runs = [lab for i, lab in enumerate(labels) if i == 0 or labels[i - 1] != lab]
        for lab in set(runs):
            occurrences[lab, min(runs.count(lab), OCCURRENCE_CLASSES) - 1] += 1
    mean = [float(np.mean(d)) if d else 0.0 for d in durations]
    std = [float(max(np.std(d), 0.2)) if len(d) > 1 else 0.5 for d in durations]
    return {
        "labels": list(MUSICAL_LABELS),
        "start": (start / start.sum()).round(5).tolist(),
        "end": (end / end.sum()).round(5).tolist(),
        "transition": (trans / trans.sum(axis=1, keepdims=True)).round(5).tolist(),
        "bins": BINS,
        "position": (position / position.sum(axis=1, keepdims=True)).round(5).tolist(),
        "log_duration": {"mean": np.round(mean, 4).tolist(), "std": np.round(std, 4).tolist()},
        "recurs": (recurs[:, 1] / recurs.sum(axis=1)).round(5).tolist(),
        "occurrences": (occurrences / occurrences.sum(axis=1, keepdims=True)).round(5).tolist(),
        "sections": int(sum(len(s) for s in songs)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Harmonix Set segment files -> songscope label priors (JSON).")
    parser.add_argument("folder", type=Path, help="folder of Harmonix 'NNNN_name.txt' segment files")
    parser.add_argument("--out", type=Path, default=PRIORS_PATH)
    parser.add_argument("--alpha", type=float, default=0.5, help="count added to every cell (smoothing)")
    args = parser.parse_args()
    files = sorted(args.folder.glob("*.txt"))
    if not files:
        sys.exit(f"error: no .txt segment files in {args.folder}")
    try:
        songs = [s for s in (musical_sections(f) for f in files) if s]
    except InputError as exc:
        sys.exit(f"error: {exc}")
    table = {"source": "Harmonix Set segment annotations (github.com/urinieto/harmonixset, dataset/segments), "
                       "Nieto et al., ISMIR 2019; MIT licence. Text annotations only, no audio.",
             "files": len(files), "songs": len(songs), "ids": [f.stem for f in files],
             "built_by": "tools/harmonix_priors.py", **priors(songs, args.alpha)}
    try:
        write_text(args.out, json.dumps(table, indent=1) + "\n")
    except OutputError as exc:
        sys.exit(f"error: {exc}")
    print(json.dumps({"out": str(args.out), "files": len(files), "songs": len(songs), "sections": table["sections"]}))


if __name__ == "__main__":
    main()
