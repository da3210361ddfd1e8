"""Source separation into bass, drums, other and vocals.

Engines: the classic engine (HPSS + REPET-SIM + low-pass bass + soft masks, no weights) and
trainable neural models: Band-Split RNN and U-Net mask estimators (``model.py``), run in
chunks with overlap-add so any length fits in bounded memory (``chunked.py``).
"""

from .api import SeparateOptions, Separator, load_separator, separate, separate_audio, separate_file
from .stems import STEMS, parse_stems

__all__ = ["STEMS", "SeparateOptions", "Separator", "load_separator", "parse_stems", "separate",
           "separate_audio", "separate_file"]
