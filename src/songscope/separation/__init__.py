"""Source separation into bass, drums, other and vocals.

Engines: the classic engine (HPSS + REPET-SIM + low-pass bass + soft masks, no weights) and
trainable neural models: Band-Split RNN and U-Net mask estimators (``model.py``), run in
chunks with overlap-add so any length fits in bounded memory (``chunked.py``). ``family.py``
registers them with the model registry.
"""

from .api import SeparateOptions, load_separator, separate, separate_audio, separate_file
from .engine import Separator
from .stems import parse_stems

__all__ = ["SeparateOptions", "Separator", "load_separator", "parse_stems", "separate", "separate_audio",
           "separate_file"]
