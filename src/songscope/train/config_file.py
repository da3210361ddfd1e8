"""Reading training config files (TOML or JSON) shared by every model family."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import InputError
from .loop import TrainConfig

__all__ = ["read_config_file"]


def read_config_file(path: str | Path, path_keys: tuple[str, ...]) -> dict[str, Any]:
    """The settings of a TOML or JSON file, with relative paths made absolute.

    Paths under ``path_keys`` and ``train.out_dir`` are taken relative to the file's folder;
    the ``[train]`` table becomes a :class:`TrainConfig` under ``"train"``.

    Raises:
        InputError: missing file, syntax error, unknown training setting.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such config file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                import tomli as tomllib
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from None
    train = dict(data.get("train", {}))
    base = path.resolve().parent
    for name in path_keys:
        if data.get(name):
            data[name] = str((base / data[name]).resolve())
    if "out_dir" in train:
        train["out_dir"] = str((base / train["out_dir"]).resolve())
    data["train"] = TrainConfig.from_dict(train)
    return data
