"""allin1's released All-In-One checkpoints (``harmonix-fold0-0vra4ys2.pth`` ... ``harmonix-fold7-*.pth``
on the Hugging Face hub repository ``taejunkim/allinone``).

allin1's ``models/loaders.py`` unpickles such a file with torch's default loader and builds
``AllInOne(OmegaConf.create(checkpoint["config"]))``, then ``load_state_dict(checkpoint["state_dict"])``:
two entries, allin1's ``Config`` (with its ``data`` section) and the network's weights under allin1's
parameter names, which songscope's network shares. The file is opened like every model file, with
torch's weights-only loader: a config stored as a plain dict reads as it is; a config pickled
as an OmegaConf object is refused before anything runs (``refused: it would call
omegaconf.dictconfig.DictConfig``). Such a file has to be re-saved, where it is trusted, with
``torch.save({"config": OmegaConf.to_container(c["config"]), "state_dict": c["state_dict"]}, path)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import CheckpointError
from ..catalog import ModelEntry
from ..container import Checkpoint

__all__ = ["convert", "detect"]


def detect(payload: dict[str, Any], path: Path) -> bool:
    """True for a dict with allin1's ``config`` and an ``AllInOne`` state dict."""
    state, config = payload.get("state_dict"), payload.get("config")
    return isinstance(state, dict) and isinstance(config, dict) and "embeddings.conv0.weight" in state


def convert(payload: dict[str, Any], path: Path, entry: ModelEntry | None) -> Checkpoint:
    """allin1's config read into ``AllInOneConfig`` (the whole original kept as metadata ``allin1_config``),
    the weights as they are."""
    from ...structure.allinone.config import AllInOneConfig

    original = payload["config"]
    config = AllInOneConfig.from_dict(original)
    try:
        kept = json.loads(json.dumps(original, default=str))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: allin1 config that is not plain data ({exc})") from None
    other = sorted(str(k) for k in payload if k not in ("config", "state_dict"))
    notes = (f"left out {', '.join(other)}",) if other else ()
    return Checkpoint("allinone", config.to_dict(), dict(payload["state_dict"]), metadata={"allin1_config": kept},
                      songscope_version=None, notes=notes)
