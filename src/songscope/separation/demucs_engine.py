"""Demucs (Défossez et al.; the ``demucs`` package, extra ``demucs``) as a separation engine.

``-m htdemucs`` (or another name of :data:`DEMUCS_NAMES`) loads the pretrained bag of models
as Demucs 4.1 downloads it: from its Hugging Face repositories (``adefossez/HTDemucs``, ...), a
YAML bag definition plus one ``.safetensors`` file per model, kept in the Hugging Face cache
(read first; downloaded when missing, unless ``SONGSCOPE_OFFLINE`` is set). Demucs's older
download (pickled ``.th`` files) is never used: songscope does not unpickle hub files, and a
model file naming a class outside ``demucs`` is refused. Weights neither cached nor
downloadable are a one-line error naming the repository.

The bag runs window by window inside songscope's streaming separation (resampling to 44.1 kHz,
stereo, cross-faded overlap-add, writing), one ``demucs.apply.apply_model`` call per window
(no random shifts). Transformer models (HTDemucs) take windows of at most their training
segment, so the window is that segment. Stems outside bass/drums/other/vocals (the guitar and
piano of ``htdemucs_6s``) are added to ``other``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..conventions import STEMS
from ..errors import CheckpointError
from .engine import Separator

__all__ = ["DEMUCS_NAMES", "demucs_separator", "separator_from_demucs"]

#: Pretrained Demucs bags ``-m`` accepts (those Demucs publishes on the Hugging Face hub).
DEMUCS_NAMES: tuple[str, ...] = ("htdemucs", "htdemucs_ft", "htdemucs_6s", "hdemucs_mmi", "mdx", "mdx_extra",
                                 "mdx_q", "mdx_extra_q")
#: Window for models that take any length (seconds).
_FREE_WINDOW_SECONDS = 10.0


def _hub_file(repo: str, filename: str) -> str:
    """Path of ``filename`` of a hub repository: the local Hugging Face cache first, then a
    download unless ``SONGSCOPE_OFFLINE`` is set."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import logging as hub_logging

    try:
        return hf_hub_download(repo, filename, local_files_only=True)
    except Exception:  # not cached: download below, online only
        if os.environ.get("SONGSCOPE_OFFLINE"):
            raise
    verbosity = hub_logging.get_verbosity()
    hub_logging.set_verbosity_error()  # its retry warnings: songscope reports the failure in one line
    try:
        return hf_hub_download(repo, filename)
    finally:
        hub_logging.set_verbosity(verbosity)


def _demucs_model(path: str) -> Any:
    """One model of a bag from its ``.safetensors`` file (refusing classes from outside demucs)."""
    from demucs.hf import load_safetensors_model
    from safetensors import safe_open

    with safe_open(path, framework="pt") as handle:
        klass = (handle.metadata() or {}).get("klass", "")
    if not klass.startswith("demucs."):
        raise CheckpointError(f"{path}: not a Demucs model file (class {klass or 'missing'!r})")
    return load_safetensors_model(path)


def _download(name: str) -> Any:
    """The pretrained bag ``name`` from Demucs's Hugging Face repository (or the local cache)."""
    try:
        import yaml
        from demucs.apply import BagOfModels
        from demucs.hf import hf_repo_name
    except ImportError as exc:
        hint = "demucs 4.1 or newer" if exc.name and exc.name.startswith("demucs") else exc.name
        raise CheckpointError(f"model {name!r} needs {hint}: pip install -U 'songscope[demucs]'") from None
    repo = f"adefossez/{hf_repo_name(name)}"
    try:
        with open(_hub_file(repo, f"{name}.yaml"), encoding="utf-8") as handle:
            bag = yaml.safe_load(handle)
        models = [_demucs_model(_hub_file(repo, f"{sig}.safetensors")) for sig in bag["models"]]
    except CheckpointError:
        raise
    except ImportError as exc:
        raise CheckpointError(f"model {name!r} needs {exc.name}: pip install 'songscope[demucs]'") from None
    except Exception as exc:  # offline, not cached, hub or network errors: all mean "weights not here"
        raise CheckpointError(f"model {name!r}: Demucs weights from the Hugging Face repository {repo} "
                              f"({name}.yaml and its .safetensors files) are not in the local cache and could "
                              f"not be downloaded ({type(exc).__name__}); run once online, without "
                              "SONGSCOPE_OFFLINE, to fetch them") from None
    return BagOfModels(models, bag.get("weights"), bag.get("segment"))


def _segment(model: Any) -> float:
    """Longest window (s) the model takes: a transformer's training segment, else infinite."""
    from demucs.htdemucs import HTDemucs

    if isinstance(model, HTDemucs):
        return float(model.segment)
    return float(getattr(model, "max_allowed_segment", float("inf")))


def separator_from_demucs(name: str, model: Any, device: str | None = None) -> Separator:
    """A loaded Demucs model or bag (``demucs.apply.BagOfModels``) as a songscope engine.

    Args:
        name: what the user asked for. model: the Demucs model. device: cpu/cuda/mps (None: best).

    Returns:
        a :class:`Separator` at the model's rate and channel count, targets in :data:`STEMS` order.
    """
    import torch
    from demucs.apply import apply_model

    from ..device import select_device

    device = select_device(device)
    model = model.to(device).eval()
    sources = list(model.sources)
    index = {stem: sources.index(stem) for stem in STEMS if stem in sources}
    extra = [i for i, source in enumerate(sources) if source not in STEMS]
    targets = tuple(stem for stem in STEMS if stem in index or (stem == "other" and extra))

    @torch.no_grad()
    def run(chunk: np.ndarray) -> np.ndarray:
        wave = torch.from_numpy(np.ascontiguousarray(chunk))[None].to(device)
        out = apply_model(model, wave, shifts=0, split=False, device=device)[0].float().cpu().numpy()
        stems = {stem: out[i] for stem, i in index.items()}
        if extra:
            stems["other"] = stems.get("other", 0) + out[extra].sum(axis=0)
        return np.stack([stems[stem] for stem in targets])

    segment = _segment(model)
    fixed = bool(np.isfinite(segment))
    window = int(segment * model.samplerate) if fixed else int(_FREE_WINDOW_SECONDS * model.samplerate)
    return Separator(name, "demucs", targets, int(model.samplerate), int(model.audio_channels), window, run, fixed)


def demucs_separator(name: str, checkpoint: Any = None, device: str | None = None, settings: Any = None) -> Separator:
    """The family loader: the pretrained Demucs bag ``name`` as an engine.

    Raises:
        CheckpointError: demucs too old, huggingface_hub missing, or weights neither cached nor downloadable.
    """
    return separator_from_demucs(name, _download(name), device)
