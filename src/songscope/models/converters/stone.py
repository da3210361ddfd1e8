"""Official STONE / 24-STONE checkpoints (github.com/deezer/stone): ``{"stone": state dict,
"gin_info": [gin lines], ...training state}``.

The architecture comes from the gin lines and the state dict; the index-to-key map is not in
the file: it comes from the catalog entry (by name, or recognised by the file's sha256).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..catalog import CATALOG, ModelEntry
from ..checkpoints import sha256_of
from ..container import Checkpoint

__all__ = ["convert", "detect", "stone_config"]

_DROPPED = ("optimizer", "loss_fn", "circle_type", "audio")


def detect(payload: dict[str, Any], path: Path) -> bool:
    return isinstance(payload.get("stone"), dict)


def _gin_value(lines: list[str], name: str) -> Any:
    for line in lines:
        match = re.match(rf"\s*{re.escape(name)}\s*=\s*(.+)$", line)
        if match:
            text = match.group(1).strip().strip('"')
            if text.startswith("["):
                return [int(v) for v in text.strip("[]").split(",") if v.strip()]
            return float(text) if "." in text else int(text)
    return None


def stone_config(state: dict[str, Any], gin_lines: list[str]) -> dict[str, Any]:
    """ChromaNet settings (``ChromaNetConfig`` fields) of an official checkpoint."""
    num_classes = 12 * int(state["chromanet.classifier.weight"].shape[0])
    norm = "frame" if "chromanet.time_downsampling_blocks.0.norm.weight" in state else "global"
    return {"n_bins": int(_gin_value(gin_lines, "Stone.n_bins") or 84),
            "channels": list(_gin_value(gin_lines, "Stone.out_channels") or [2, 3, 40, 40, 30, 10, 3]),
            "kernels": list(_gin_value(gin_lines, "Stone.kernels") or [7, 7, 7, 7, 7, 5, 5]),
            "num_classes": num_classes, "norm": norm,
            "temperature": float(_gin_value(gin_lines, "Stone.temperature") or 1.0)}


def convert(payload: dict[str, Any], path: Path, entry: ModelEntry | None) -> Checkpoint:
    """The checkpoint in songscope's container; labels from ``entry`` or a catalog entry with the
    same sha256 (empty, with a note, for an unknown file: calibrate it on a C-major recording)."""
    state = dict(payload["stone"])
    lines = [str(line) for line in payload.get("gin_info", [])]
    if entry is None:
        digest = sha256_of(path)
        entry = next((e for e in CATALOG.values() if e.sha256 == digest), None)
    notes = [f"left out the training state ({', '.join(k for k in _DROPPED if k in payload)})"]
    if entry is None:
        notes.append("no index-to-key map (an official file not in the catalog): calibrate it with "
                     "songscope.key.stone.calibrate on a C-major recording and save it with its labels")
    metadata = {"gin_info": lines, **{k: payload[k] for k in ("epoch", "val_loss") if isinstance(payload.get(k), (int, float))}}
    return Checkpoint("stone", stone_config(state, lines), state, entry.labels if entry else (), metadata,
                      songscope_version=None, notes=tuple(notes))
