"""The one checkpoint container songscope writes, and the one safe way it reads model files.

A container is a ``torch.save`` file of plain data only::

    {"songscope_checkpoint": FORMAT_VERSION, "family": "stone", "songscope_version": "0.2.0",
     "config": "<JSON>", "metadata": "<JSON>", "labels": ["C major", ...],
     "state_dict": {name: tensor, ...}, "training": {...}}   # "training" only in last.pt / best.pt

The configuration and metadata travel as JSON text, so the pickled structure holds nothing but
strings, numbers, lists, dicts and tensors. Every model file (ours, official ones, a user's,
a hub's) is read by :func:`safe_load`: ``torch.load(weights_only=True)``, which refuses any
other Python object, so opening a file never runs code from it.

Lightning and Hydra checkpoints (the public BSRNN code, All-In-One) also pickle their settings as
OmegaConf containers. When those, and the plain types they record, are the only objects in a
file, it is read again with inert records standing in for them (a record keeps the pickled state
and runs nothing) and the records become plain dicts and lists: the settings arrive as data, with
OmegaConf interpolations (``${..a.b}``) left as strings.
"""

from __future__ import annotations

import collections
import json
import pickle
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_path
from ..errors import CheckpointError
from ..version import __version__

__all__ = ["FORMAT_VERSION", "Checkpoint", "is_container", "safe_load", "save_checkpoint"]

#: Version of the container layout; a reader refuses newer files with a clear message.
FORMAT_VERSION = 1
_MARK = "songscope_checkpoint"


@dataclass
class Checkpoint:
    """A model file's contents.

    Attributes:
        family: the model family that reads it (``stone``, ``bsrnn``, ...).
        config: the family's architecture settings (JSON-able).
        state_dict: parameter name -> tensor, of the family's torch module.
        labels: output index -> label for classifiers (keys, key signatures), else empty.
        metadata: anything else the family keeps (inference window, best step, training settings).
        training: optimiser, scheduler, step and RNG state of a training checkpoint, else None.
        songscope_version: the songscope version that wrote it (None for files of other software).
        format_version: container layout version.
        source: the file it was read from.
        notes: what a converter of a foreign format could not map (empty for songscope files).
    """

    family: str
    config: dict[str, Any]
    state_dict: dict[str, Any]
    labels: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] | None = None
    songscope_version: str | None = __version__
    format_version: int = FORMAT_VERSION
    source: Path | None = None
    notes: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        """What :func:`save_checkpoint` writes."""
        out = {_MARK: self.format_version, "family": self.family, "songscope_version": self.songscope_version,
               "config": json.dumps(self.config), "metadata": json.dumps(self.metadata),
               "labels": list(self.labels), "state_dict": {k: v.detach().cpu() for k, v in self.state_dict.items()}}
        if self.training is not None:
            out["training"] = self.training
        return out

    @classmethod
    def from_payload(cls, payload: dict[str, Any], source: Path | None = None) -> "Checkpoint":
        """Inverse of :meth:`payload`.

        Raises:
            CheckpointError: a newer layout, or missing / malformed fields.
        """
        version = payload.get(_MARK)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise CheckpointError(f"{source}: checkpoint layout {version!r} is newer than this songscope reads "
                                  f"({FORMAT_VERSION}); upgrade songscope")
        try:
            return cls(family=str(payload["family"]), config=json.loads(payload["config"]),
                       state_dict=dict(payload["state_dict"]), labels=tuple(payload.get("labels", ())),
                       metadata=json.loads(payload.get("metadata", "{}")), training=payload.get("training"),
                       songscope_version=payload.get("songscope_version"), format_version=version,
                       source=source)
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{source}: damaged songscope checkpoint ({type(exc).__name__}: {exc})") from None


def is_container(payload: Any) -> bool:
    """True for a dict written by :func:`save_checkpoint`."""
    return isinstance(payload, dict) and _MARK in payload


def _allowed_numpy() -> list:
    """The numpy scalar and dtype objects official STONE checkpoints hold (plain numbers)."""
    import numpy as np

    scalar = getattr(getattr(np, "_core", np.core), "multiarray").scalar
    return [np.dtype, type(np.dtype(np.float64)), (scalar, "numpy.core.multiarray.scalar")]


#: Module prefixes of configuration objects read as inert records.
_RECORD_PREFIXES = ("omegaconf.", "typing.")
#: Plain types those objects record (element and key types, flag dicts); building them runs no file code.
_PLAIN_GLOBALS: dict[str, type] = {f"builtins.{t.__name__}": t for t in (int, float, str, bool, list, dict, tuple)}
_PLAIN_GLOBALS["collections.defaultdict"] = collections.defaultdict


class _Record:
    """Inert stand-in for a pickled configuration object: keeps what the pickle gives it, runs nothing."""

    pickled_name = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> "_Record":
        record = object.__new__(cls)
        record.args, record.state = args, None
        return record

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to do: ``__new__`` kept the arguments."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _record_type(name: str) -> type:
    return type(name.rsplit(".", 1)[-1], (_Record,), {"pickled_name": name})


def _plain(value: Any) -> Any:
    """``value`` with records replaced by plain data: an OmegaConf container by its content (dict
    or list), a value node by its value, any other record by None, a class by its pickled name."""
    if isinstance(value, _Record):
        state = value.state[0] if isinstance(value.state, tuple) and len(value.state) == 2 else value.state
        if isinstance(state, dict):
            for key in ("_content", "_val"):
                if key in state:
                    return _plain(state[key])
        return None
    if isinstance(value, type):
        return value.pickled_name if issubclass(value, _Record) else value.__name__
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(item) for item in value)
    return value


def _config_stand_ins(path: Path) -> list[tuple[Any, str]] | None:
    """Stand-ins for every global the file names, when all are configuration objects or plain
    types (listed without unpickling); None when anything else is there."""
    import torch

    names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    if not all(name in _PLAIN_GLOBALS or name.startswith(_RECORD_PREFIXES) for name in names):
        return None
    return [(_PLAIN_GLOBALS[name], name) if name in _PLAIN_GLOBALS else (_record_type(name), name) for name in names]


def _weights_only_load(path: Path, allowed: list) -> Any:
    import torch

    with torch.serialization.safe_globals(_allowed_numpy() + allowed), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's note on pickle protocols of older files
        return torch.load(path, map_location="cpu", weights_only=True)


def _read_with_records(path: Path) -> Any:
    """The file read with configuration objects as records, as plain data; None when that fails."""
    try:
        stand_ins = _config_stand_ins(path)
        return None if stand_ins is None else _plain(_weights_only_load(path, stand_ins))
    except Exception:  # a pickle the records cannot take (e.g. items set on a record): refused as before
        return None


def _refusal(path: Path, exc: pickle.UnpicklingError) -> CheckpointError:
    """The one-line error for a file holding objects other than weights and configuration."""
    found = re.search(r"GLOBAL\s+([\w.]+)", str(exc))
    if not found:
        return CheckpointError(f"{path}: not a readable checkpoint (not plain weights)")
    hint = ("; re-save its config as plain data (OmegaConf.to_container) where you trust the file"
            if found.group(1).startswith("omegaconf.") else "")
    return CheckpointError(f"{path}: refused: it would call {found.group(1)}; songscope reads weights only "
                           f"and never runs code from a model file{hint}")


def safe_load(path: str | Path) -> dict[str, Any]:
    """Read a model file without running code from it: ``torch.load(weights_only=True)``.

    Returns:
        the file's top-level dict (tensors, numbers, strings, lists, dicts).

    Raises:
        CheckpointError: unreadable, not a dict, or holding Python objects other than weights
            (a pickle that would call a function is refused before anything runs).
    """
    path = Path(path)
    try:
        data = _weights_only_load(path, [])
    except pickle.UnpicklingError as exc:
        data = _read_with_records(path)
        if data is None:
            raise _refusal(path, exc) from None
    except Exception as exc:  # zip, EOF and format errors all mean "not a checkpoint we read"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {first})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: not a checkpoint (expected a dict of weights, got {type(data).__name__})")
    return data


def save_checkpoint(checkpoint: Checkpoint, path: str | Path) -> Path:
    """Write ``checkpoint`` as a container, atomically; returns the path."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(checkpoint.payload(), tmp)
    return Path(path)
