"""Model registry (name -> checkpoint, sha256, label map), checkpoint resolution and converters."""

from .checkpoints import cache_dir, resolve_checkpoint, sha256_of
from .registry import REGISTRY, ModelEntry, get_entry

__all__ = ["REGISTRY", "ModelEntry", "cache_dir", "get_entry", "resolve_checkpoint", "sha256_of"]
