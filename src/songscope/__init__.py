"""songscope: stems, tempo, beats, downbeats, meter, key, sections and version fingerprints
of music recordings, in one install.

The public API mirrors ``allin1``: :func:`analyze`, :func:`load_result`, :func:`visualize`,
:func:`sonify` and :data:`HARMONIX_LABELS`; :func:`estimate_key` and :func:`separate`
(with :func:`separate_audio` for arrays) give keys and stems.
"""

from .errors import AudioError, InputError, OutputError, SongscopeError
from .result import AnalysisResult, Segment, load_result
from .structure.labels import HARMONIX_LABELS
from .version import __version__

__all__ = [
    "AnalysisResult", "AudioError", "HARMONIX_LABELS", "InputError", "OutputError", "Segment",
    "SongscopeError", "__version__", "analyze", "estimate_key", "load_result", "separate", "separate_audio",
    "sonify", "visualize",
]


def __getattr__(name: str):
    # heavy parts (matplotlib, process pools) load on first use
    if name == "analyze":
        from .pipeline import analyze
        return analyze
    if name == "estimate_key":
        from .key.api import estimate_key
        return estimate_key
    if name in ("separate", "separate_audio"):
        from .separation import api
        return getattr(api, name)
    if name == "visualize":
        from .viz.figure import visualize
        return visualize
    if name == "sonify":
        from .viz.sonify import sonify
        return sonify
    raise AttributeError(f"module 'songscope' has no attribute {name!r}")
