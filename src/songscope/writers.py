"""Writing what ``analyze`` computed: result JSON, activations, embeddings, JAMS, Audacity labels,
frame features, figures and click tracks. Writers only write; every number comes from the engines.

An :class:`OutputPlan` says which files a run asks for, so a track counts as done only when every
one of them exists (``--skip-existing``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .audio.features import ANALYSIS_SR
from .audio.signal import Audio, View
from .result import AnalysisResult, StructureResult, save_audacity_labels, save_jams, save_result

__all__ = ["OutputPlan", "save_npz", "write_outputs"]


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write arrays as a compressed ``.npz``, atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    return path


@dataclass(frozen=True)
class OutputPlan:
    """The files one analysis writes; a folder set to None means "do not write that output".

    Attributes:
        out_dir: ``<name>.json`` (and ``.activ.npz``, ``.embed.npy``, ``.jams``, ``.labels.txt``).
        activations: write ``<name>.activ.npz``. embeddings: write ``<name>.embed.npy`` (engines
            that have embeddings). jams, audacity: write those files.
        viz_dir, viz_format: ``<name>.<viz_format>`` figures. sonif_dir: ``<name>.sonif.wav``.
        spec_dir: ``<name>.features.npz``, the structure engine's intermediate arrays.
        demix_dir: separated stems kept as ``<demix_dir>/<name>/<stem>.wav``.
    """

    out_dir: Path | None = None
    activations: bool = False
    embeddings: bool = False
    jams: bool = False
    audacity: bool = False
    viz_dir: Path | None = None
    viz_format: str = "pdf"
    sonif_dir: Path | None = None
    spec_dir: Path | None = None
    demix_dir: Path | None = None

    def views(self) -> set[View]:
        """Forms of the audio the writers read: the original for click tracks."""
        return {View()} if self.sonif_dir is not None else set()

    def expected(self, name: str) -> list[Path]:
        """Every file written for track ``name``, except embeddings (engines without any write none)
        and stems (their names depend on the separation engine)."""
        files = []
        if self.out_dir is not None:
            files.append(self.out_dir / f"{name}.json")
            files += [self.out_dir / f"{name}.{ext}" for ext, wanted in
                      (("activ.npz", self.activations), ("jams", self.jams), ("labels.txt", self.audacity)) if wanted]
        for folder, suffix in ((self.spec_dir, ".features.npz"), (self.viz_dir, f".{self.viz_format}"),
                               (self.sonif_dir, ".sonif.wav")):
            if folder is not None:
                files.append(folder / f"{name}{suffix}")
        if self.demix_dir is not None:
            files.append(self.demix_dir / name)
        return files

    def done(self, name: str) -> bool:
        """True when every file of :meth:`expected` exists (``--skip-existing``)."""
        return all(p.exists() for p in self.expected(name))


def write_outputs(name: str, result: AnalysisResult, structure: StructureResult, audio: Audio,
                  plan: OutputPlan) -> None:
    """Write every file ``plan`` asks for one analysed track (stems are written while separating)."""
    from .viz.figure import save_figure
    from .viz.sonify import render_sonification
    from .audio.save import save_audio

    if plan.out_dir is not None:
        save_result(result, plan.out_dir / f"{name}.json")
        if plan.activations:
            save_npz(plan.out_dir / f"{name}.activ.npz", structure.activations)
        if plan.embeddings and structure.embeddings is not None:
            with atomic_path(plan.out_dir / f"{name}.embed.npy") as tmp:
                np.save(tmp, structure.embeddings)
        if plan.jams:
            save_jams(result, plan.out_dir / f"{name}.jams")
        if plan.audacity:
            save_audacity_labels(result, plan.out_dir / f"{name}.labels.txt")
    if plan.spec_dir is not None:
        save_npz(plan.spec_dir / f"{name}.features.npz", structure.features)
    if plan.viz_dir is not None:
        save_figure(result, plan.viz_dir / f"{name}.{plan.viz_format}", mono=audio.mono(ANALYSIS_SR),
                    sample_rate=ANALYSIS_SR)
    if plan.sonif_dir is not None:
        save_audio(plan.sonif_dir / f"{name}.sonif.wav", render_sonification(result, audio.get(), audio.source_rate),
                   audio.source_rate)
