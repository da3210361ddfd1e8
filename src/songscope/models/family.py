"""The family contract: what a model family gives songscope so that every command can use it.

A **task** is a kind of answer (:data:`TASKS`): ``structure`` (beats, downbeats, meter, tempo and
labelled sections: what ``analyze -m`` runs), ``beats``, ``key``, ``separation`` (stems) and
``covers``. A **family** is one way of computing a task's answer: the ``classic`` engines, ``stone``
key models, ``bsrnn`` and ``unet`` separation models, and those to come. A family registers once
(:func:`songscope.models.register_family`, or one line in ``songscope/models/builtin.py``) with:

- ``load(name, checkpoint, device, settings) -> Engine``: an engine ready to predict. ``name`` is
  what the user typed; ``checkpoint`` the opened :class:`~songscope.models.container.Checkpoint`
  (None for names that need no weights, such as ``classic``); ``settings`` the task's options
  (:data:`TASKS` lists them), of which a family reads what it understands;
- ``engine.predict(audio)``: decoded arrays in (:class:`~songscope.audio.signal.Audio`: the
  mixture in the forms ``engine.views`` asks for, and the stems when the run separated them),
  a typed result out (:mod:`songscope.result`: ``StructureResult``, ``BeatResult``, ``KeyResult``,
  ``Stems``, ``CoverEmbedding``);
- where it applies, ``config`` (the training-config dataclass, with ``load(path)`` and a ``train``
  field of :class:`~songscope.train.loop.TrainConfig`), ``train(config, progress)`` and
  ``ensemble(name, engines)`` (several loaded engines as one, for ``-m a,b``);
- optionally ``tune(config, tuning_file, progress)`` (hyper-parameter search: several runs, a
  summary) and ``prod(config, progress)`` (production training, e.g. k folds then all the data):
  ``songscope train --tune FILE`` and ``--prod``.

Names, checkpoint files and comma-separated ensembles given to ``-m`` resolve the same way for
every command (:func:`songscope.models.load_engine`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

if TYPE_CHECKING:  # only for annotations: importing these would pull in numpy-heavy modules
    from ..audio.signal import Audio, View
    from ..train.loop import TrainResult
    from .container import Checkpoint

__all__ = ["TASKS", "Engine", "Family", "Loader", "Trainer", "Tuner"]

#: Task name -> (what it answers, the settings its engines understand).
TASKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "structure": ("beats, downbeats, meter, tempo and labelled sections (analyze -m)",
                  ("meters", "min_bpm", "max_bpm")),
    "beats": ("beats, downbeats, meter and tempo", ("meters", "min_bpm", "max_bpm")),
    "key": ("key and key signature (key -m, analyze --key-model)", ("overlap", "profiles")),
    "separation": ("stems: bass, drums, other, vocals (separate -m, analyze --demix)", ()),
    "covers": ("version fingerprints and cover identification", ()),
}


class Engine(Protocol):
    """A loaded model of some family, ready to predict.

    Attributes:
        name: what the user asked for (``classic``, ``stone24``, a path, ``a.pt,b.pt``).
        family: the family's name. task: the task it answers.
        views: the forms of the mixture ``predict`` reads (decoding prepares them in one pass).
        uses_stems: True when ``predict`` reads ``audio.stems`` (analyze then separates first).
    """

    name: str
    family: str
    task: str
    views: tuple["View", ...]
    uses_stems: bool

    def predict(self, audio: "Audio") -> Any:
        """The task's typed result for one recording."""


#: (name the user gave, opened checkpoint or None, device or None, task settings) -> engine
Loader = Callable[[str, "Checkpoint | None", "str | None", Mapping[str, Any]], Engine]
#: (training config, progress bar?) -> (loop result, path of the exported model)
Trainer = Callable[[Any, bool], "tuple[TrainResult, Path]"]
#: (training config, tuning file, progress bar?) -> path of the written summary
Tuner = Callable[[Any, Path, bool], Path]


@dataclass(frozen=True)
class Family:
    """A registered model family.

    Attributes:
        name: unique per task; checkpoint files name their family (the container's ``family``).
        task: one of :data:`TASKS`.
        description: one line for listings.
        load: see :data:`Loader`.
        builtin_names: names that select this family without any checkpoint (``classic``).
        needs: modules it imports (``torch``); missing ones give a one-line install hint.
        config: training-config dataclass (``load(path)`` classmethod, ``train`` field), or None.
        train: see :data:`Trainer`; None when the family cannot be trained.
        ensemble: ``(name, engines) -> engine`` combining several loaded engines of the task into
            one (parts combine when their families give the same function), or None.
        tune: see :data:`Tuner`: a hyper-parameter search, or None.
        prod: see :data:`Trainer`: production training (for instance k folds, then all the
            data), or None.
        extra: the pip extra that provides ``needs`` (for the install hint).
    """

    name: str
    task: str
    description: str
    load: Loader
    builtin_names: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    config: type | None = None
    train: Trainer | None = None
    ensemble: Callable[[str, list[Engine]], Engine] | None = None
    tune: Tuner | None = None
    prod: Trainer | None = None
    extra: str = "neural"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"family {self.name!r}: unknown task {self.task!r}; tasks: {', '.join(TASKS)}")
        if (self.config is None) != (self.train is None):
            raise ValueError(f"family {self.name!r}: give both config and train, or neither")
        if self.train is None and (self.tune is not None or self.prod is not None):
            raise ValueError(f"family {self.name!r}: tune and prod need config and train")
