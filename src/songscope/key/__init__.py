"""Key and key signature: classic CQT-chroma + profiles engine, ChromaNet (STONE), key names
and signatures."""

from .classic import chroma_key_scores, estimate_key_classic
from .labels import KEY_SIGNATURES, KEYS, key_name, key_signature, parse_key
from .profiles import PROFILES

__all__ = ["KEYS", "KEY_SIGNATURES", "PROFILES", "chroma_key_scores", "estimate_key_classic", "key_name",
           "key_signature", "parse_key"]
