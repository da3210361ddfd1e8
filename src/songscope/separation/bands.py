"""Band layouts of Band-Split RNN (Luo & Yu 2022).

A layout is a list of ``(end_hz, width_hz)`` pairs: bands of ``width_hz`` from the previous
end up to ``end_hz``; whatever lies above the last end is one more band. The per-target
layouts are the paper's (vocals "V7", also used for "other"; bass; drums).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LAYOUTS", "band_edges"]

LAYOUTS: dict[str, tuple[tuple[int, int], ...]] = {
    "vocals": ((1000, 100), (4000, 250), (8000, 500), (16000, 1000), (20000, 2000)),
    "other": ((1000, 100), (4000, 250), (8000, 500), (16000, 1000), (20000, 2000)),
    "bass": ((500, 50), (1000, 100), (4000, 500), (8000, 1000), (16000, 2000)),
    "drums": ((1000, 50), (2000, 100), (4000, 250), (8000, 500), (16000, 1000)),
}


def band_edges(layout: tuple[tuple[int, int], ...] | list, sample_rate: int, n_fft: int) -> list[tuple[int, int]]:
    """STFT bin ranges ``[(start, end), ...]`` of a layout; they tile 0 .. n_fft // 2 + 1.

    A band ends at the first bin whose centre frequency reaches the band's upper edge
    (the convention of the public BSRNN implementation, so its checkpoints line up).
    Empty bands (narrower than a bin) are dropped.
    """
    num_bins = n_fft // 2 + 1
    freqs = sample_rate * np.arange(num_bins) / n_fft
    freqs[-1] = sample_rate // 2
    edges, start_hz, start = [], 0, 0
    for end_hz, width in layout:
        for upper in np.arange(start_hz + width, end_hz + width, width):
            end = int(np.sum(freqs < upper))
            if end > start:
                edges.append((start, end))
                start = end
        start_hz = end_hz
    if start < num_bins:
        edges.append((start, num_bins))
    return edges
