"""Model families, the registry that resolves ``-m``, and the one checkpoint container.

- :mod:`~songscope.models.family`: the contract a family fulfils (``Family``, ``Engine``, ``TASKS``);
- :mod:`~songscope.models.registry`: registration and :func:`load_engine`;
- :mod:`~songscope.models.catalog`: named downloadable checkpoints (``stone24``, ...);
- :mod:`~songscope.models.checkpoints`: finding, downloading and verifying those files;
- :mod:`~songscope.models.container`: the container format and the safe loader;
- :mod:`~songscope.models.converters`: official and older formats into the container.

Importing this package loads no family and no torch.
"""

from .catalog import CATALOG, ModelEntry
from .checkpoints import cache_dir, fetch, sha256_of
from .family import TASKS, Engine, Family
from .registry import (check_device, families, get_family, load_engine, register_family, resolve, trainable_family,
                       unregister_family)

__all__ = ["CATALOG", "TASKS", "Engine", "Family", "ModelEntry", "cache_dir", "check_device", "families", "fetch",
           "get_family", "load_engine", "register_family", "resolve", "sha256_of", "trainable_family",
           "unregister_family"]
