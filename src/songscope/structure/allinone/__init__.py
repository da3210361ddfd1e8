"""allin1's All-In-One structure network (Kim & Nam, WASPAA 2023) as a songscope ``structure`` family.

Modules: ``config`` (allin1's settings), ``frontend`` (the per-stem log-filtered spectrogram, in
torch), ``attention`` (neighbourhood attention in plain PyTorch), ``model`` (the network, with
allin1's parameter names), ``postprocess`` (beats, boundaries, labels), ``family`` (the engine and
its registration). Importing this package imports no torch; ``frontend``, ``attention`` and
``model`` do.
"""
