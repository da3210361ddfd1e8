"""The registry of model families, and how a ``-m`` value becomes an engine.

Every command resolves its ``-m`` (and ``analyze --key-model`` / ``--demix``) through
:func:`load_engine` for its own task, the same way:

1. ``a,b,...`` or a catalogued ensemble (``harmonix-all``): each part resolved alone, then
   combined by the families' ``ensemble``;
2. a name a family of the task answers to without weights (``classic``);
3. a catalogued name (``stone24``): the file is found, downloaded when online, checked by sha256;
4. a path to a model file: songscope's container or a foreign format a converter knows.

The checkpoint says which family reads it; a file of another task is refused with a message
that names both. The built-in families are listed in :mod:`songscope.models.builtin`; other
packages add theirs through the ``songscope.families`` entry-point group (a module with a
``FAMILIES`` sequence), and code can call :func:`register_family`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..conventions import DEVICES
from ..errors import ConfigError
from .catalog import CATALOG, UNAVAILABLE
from .family import TASKS, Engine, Family

if TYPE_CHECKING:
    from .container import Checkpoint

__all__ = ["check_device", "families", "get_family", "load_engine", "register_family",
           "resolve", "trainable_family", "unregister_family"]

_FAMILIES: dict[str, dict[str, Family]] = {task: {} for task in TASKS}
_builtin_loaded = False


def register_family(family: Family) -> Family:
    """Make ``family`` available to every command and the Python API; returns it.

    Raises:
        ValueError: another family of the same task already has that name.
    """
    known = _FAMILIES[family.task].get(family.name)
    if known is not None and known != family:
        raise ValueError(f"a {family.task} family named {family.name!r} is already registered")
    _FAMILIES[family.task][family.name] = family
    return family


def unregister_family(task: str, name: str) -> None:
    """Remove a family (tests and plugins that unload)."""
    _FAMILIES.get(task, {}).pop(name, None)


def _load_builtin() -> None:
    global _builtin_loaded
    if _builtin_loaded:
        return
    _builtin_loaded = True
    from .builtin import FAMILY_MODULES

    modules = list(FAMILY_MODULES)
    modules += [ep.value for ep in importlib.metadata.entry_points(group="songscope.families")]
    for name in modules:
        for family in importlib.import_module(name).FAMILIES:
            register_family(family)


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")


def families(task: str | None = None) -> list[Family]:
    """Registered families, of one task or of all."""
    _load_builtin()
    return [f for t, group in _FAMILIES.items() if task in (None, t) for f in group.values()]


def get_family(task: str, name: str) -> Family:
    """The family ``name`` of ``task``.

    Raises:
        ConfigError: no such family.
    """
    _check_task(task)
    _load_builtin()
    if name not in _FAMILIES[task]:
        raise ConfigError(f"no {task} family {name!r}; {task} families: {', '.join(_FAMILIES[task]) or 'none'}")
    return _FAMILIES[task][name]


def check_device(device: str | None) -> str | None:
    """``device`` when it names a known kind (``cpu``, ``cuda``, ``cuda:1``, ``mps``), else ConfigError."""
    if device is not None and device.split(":")[0] not in DEVICES:
        raise ConfigError(f"unknown device {device!r}; use {', '.join(DEVICES)}")
    return device


def _known_names(task: str) -> list[str]:
    builtin = [n for f in families(task) for n in f.builtin_names]
    return builtin + [name for name, entry in CATALOG.items() if entry.task == task]


def _family_of(checkpoint: "Checkpoint", task: str, spec: str) -> Family:
    """The family of ``task`` that reads ``checkpoint``, or a message naming the task it belongs to."""
    own = _FAMILIES[task].get(checkpoint.family)
    if own is not None:
        return own
    other = [f.task for f in families() if f.name == checkpoint.family]
    if other:
        raise ConfigError(f"{spec}: a {other[0]} model ({checkpoint.family}); this needs a {task} model")
    raise ConfigError(f"{spec}: a model of family {checkpoint.family!r}, which this songscope does not have")


def resolve(task: str, spec: str) -> tuple[Family, "Checkpoint | None"]:
    """The family and the opened checkpoint (None for weight-free names) of one ``-m`` value.

    Raises:
        ConfigError: unknown name, a model of another task, or a family songscope lacks.
        CheckpointError: unreadable, unsafe or damaged file; missing file offline; bad sha256.
    """
    _check_task(task)
    builtin = [f for f in families(task) if spec in f.builtin_names]
    if builtin:
        return builtin[0], None
    if spec in UNAVAILABLE:
        owner, what = UNAVAILABLE[spec]
        raise ConfigError(f"model {spec!r} ({what}, a {owner} model) is not available in this songscope version; "
                          f"{task} models: {', '.join(_known_names(task))}")
    from .converters import read_checkpoint

    entry = CATALOG.get(spec)
    if entry is not None:
        if entry.task != task:
            raise ConfigError(f"model {spec!r} is a {entry.task} model; this needs a {task} model "
                              f"({', '.join(_known_names(task))})")
        from .checkpoints import fetch

        checkpoint = read_checkpoint(fetch(entry), entry)
    elif Path(spec).is_file():
        checkpoint = read_checkpoint(Path(spec))
    else:
        raise ConfigError(f"{spec}: no such model file, and not a {task} model name "
                          f"(known: {', '.join(_known_names(task))}; `songscope models` lists them)")
    return _family_of(checkpoint, task, spec), checkpoint


def _require(family: Family, spec: str) -> None:
    for module in family.needs:
        if importlib.util.find_spec(module) is None:
            raise ConfigError(f"model {spec!r} ({family.name}) needs {module}: pip install 'songscope[{family.extra}]'")


def _parts(task: str, text: str) -> list[str]:
    """The models a ``-m`` value combines: its comma-separated parts, or a catalogued ensemble's; else []."""
    entry = CATALOG.get(text)
    if entry is not None and entry.parts and entry.task == task:
        return list(entry.parts)
    return [part for part in text.split(",") if part.strip()] if "," in text else []


def load_engine(task: str, spec: str, device: str | None = None,
                settings: Mapping[str, Any] | None = None) -> Engine:
    """An engine for one ``-m`` value of ``task`` (see the module docstring for the rules).

    Args:
        task: one of :data:`~songscope.models.family.TASKS`.
        spec: a name (of a model or of a catalogued ensemble), a path, or comma-separated parts.
        device: ``cpu``, ``cuda[:i]``, ``mps`` or None (the family picks; neural ones the best available).
        settings: task options (``TASKS[task][1]`` lists them); a family reads what it knows.

    Raises:
        ConfigError, CheckpointError: see :func:`resolve`; also parts that cannot combine.
    """
    text = str(spec).strip()
    check_device(device)
    settings = dict(settings or {})
    if not text:
        raise ConfigError(f"empty {task} model name")
    names = _parts(task, text)
    if names:
        parts = [load_engine(task, part, device, settings) for part in names]
        combine = {get_family(task, p.family).ensemble for p in parts}
        if len(combine) != 1 or None in combine:
            raise ConfigError(f"{text}: these {task} models ({', '.join(p.family for p in parts)}) cannot be combined")
        return combine.pop()(text, parts)
    family, checkpoint = resolve(task, text)
    _require(family, text)
    return family.load(text, checkpoint, device, settings)


def trainable_family(name: str, config: Mapping[str, Any]) -> Family:
    """The family ``songscope train NAME`` trains: NAME is a trainable family, or a task whose
    config file names its family (``family = "bsrnn"``) or that has exactly one trainable family.

    Raises:
        ConfigError: nothing trainable by that name, or a task whose family is ambiguous.
    """
    candidates = [f for f in families() if f.train is not None]
    if name in TASKS:
        of_task = [f for f in candidates if f.task == name]
        wanted = config.get("family")
        if wanted is not None:
            match = [f for f in of_task if f.name == wanted]
            if not match:
                raise ConfigError(f"the config names family {wanted!r}; trainable {name} families: "
                                  f"{', '.join(f.name for f in of_task) or 'none'}")
            return match[0]
        if len(of_task) != 1:
            raise ConfigError(f"{name}: say which family to train with `family = ...` in the config "
                              f"({', '.join(f.name for f in of_task) or 'none is trainable'})")
        return of_task[0]
    match = [f for f in candidates if f.name == name]
    if not match:
        names = sorted({f.task for f in candidates} | {f.name for f in candidates})
        raise ConfigError(f"nothing to train called {name!r}; choose from {', '.join(names)}")
    return match[0]
