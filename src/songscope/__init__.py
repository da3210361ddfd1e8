"""songscope: stems, tempo, beats, downbeats, meter, key, sections and version fingerprints
of music recordings, in one install.

The public API mirrors ``allin1``: :func:`analyze`, :func:`load_result`, :func:`visualize`,
:func:`sonify` and :data:`HARMONIX_LABELS`; :func:`estimate_key` and :func:`separate`
(with :func:`separate_audio` for arrays) give keys and stems; :func:`identify` finds the
references of cover versions in a store (``songscope covers``); :func:`train_model` trains any
trainable model family; :mod:`songscope.models` holds the family registry.
"""

from .conventions import HARMONIX_LABELS, STEMS
from .errors import AudioError, BatchError, ConfigError, InputError, OutputError, SongscopeError
from .result import AnalysisResult, KeyResult, Segment, load_result
from .version import __version__

__all__ = [
    "AnalysisResult", "AudioError", "BatchError", "ConfigError", "HARMONIX_LABELS", "InputError", "KeyResult",
    "OutputError", "STEMS", "Segment", "SongscopeError", "__version__", "analyze", "estimate_key", "identify", "load_result",
    "separate", "separate_audio", "sonify", "train_model", "visualize",
]

_LAZY = {  # heavy parts (matplotlib, torch, process pools) load on first use
    "analyze": ("pipeline", "analyze"), "estimate_key": ("key.api", "estimate_key"),
    "identify": ("covers.search", "identify"),
    "separate": ("separation.api", "separate"), "separate_audio": ("separation.api", "separate_audio"),
    "train_model": ("train.run", "train_model"), "visualize": ("viz.figure", "visualize"), "sonify": ("viz.sonify", "sonify"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attribute)
    raise AttributeError(f"module 'songscope' has no attribute {name!r}")
