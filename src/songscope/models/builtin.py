"""The families songscope ships: one line per module, each module holding a ``FAMILIES`` sequence.

A new family lives in its own package and is registered by adding its module here.
"""

FAMILY_MODULES: tuple[str, ...] = (
    "songscope.beats.family",
    "songscope.structure.family",
    "songscope.structure.allinone.family",
    "songscope.key.family",
    "songscope.separation.family",
    "songscope.covers.family",
)
