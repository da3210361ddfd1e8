"""Neighborhood attention in plain PyTorch against a naive loop over the definition (float64).

The naive reference follows NATTEN's CPU kernels (``get_window_start`` / ``get_pb_start`` of
``natten/cpu/naive/natten_cpu_commons.h``) for lengths of at least kernel x dilation, and the
documented extension (a dilation group shorter than the kernel is attended to whole) below that.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from songscope.structure.allinone.attention import na_av, na_qk, neighborhoods


def natten_window(i: int, length: int, k: int, d: int) -> tuple[int, int]:
    """(first key position, first bias index) of query ``i``, as NATTEN's kernels compute them."""
    nb = k // 2
    if d <= 1:
        start = max(i - nb, 0) + (i + nb >= length) * (length - i - nb - 1)
        pb = nb + (i < nb) * (nb - i) + (i + nb >= length) * (length - i - 1 - nb)
        return start, pb
    if i - nb * d < 0:
        return i % d, k - 1 - i // d
    if i + nb * d >= length:
        a = (length // d) * d
        b = length - a
        start = length - b + i % d - 2 * nb * d if i % d < b else a + i % d - k * d
        return start, (length - i - 1) // d
    return i - nb * d, nb


def naive_window(i: int, length: int, k: int, d: int) -> list[tuple[int, int]]:
    """[(key position, bias index)] of query ``i``: NATTEN's where it applies, else the short-group rule."""
    if length >= k * d:
        start, pb = natten_window(i, length, k, d)
        return [(start + r * d, pb + r) for r in range(k)]
    members = list(range(i % d, length, d))  # a group shorter than the kernel: all of it
    m = members.index(i)
    return [(p, n - m + k - 1) for n, p in enumerate(members)]


def naive_na(q, k, v, rpb, kernel, dilation):
    """Direct loops: (B, H, *S, C) in, (B, H, *S, C) out."""
    spatial = q.shape[2:-1]
    out = torch.zeros_like(v)
    for b, h in itertools.product(range(q.shape[0]), range(q.shape[1])):
        for pos in itertools.product(*[range(n) for n in spatial]):
            windows = [naive_window(i, n, kernel, dilation) for i, n in zip(pos, spatial)]
            keys, scores = [], []
            for combo in itertools.product(*windows):
                key_pos = tuple(p for p, _ in combo)
                bias = rpb[(h, *[pb for _, pb in combo])]
                keys.append(key_pos)
                scores.append(float(q[(b, h, *pos)] @ k[(b, h, *key_pos)]) + float(bias))
            top = max(scores)
            weights = [math.exp(s - top) for s in scores]
            total = sum(weights)
            out[(b, h, *pos)] = sum(w / total * v[(b, h, *kp)] for w, kp in zip(weights, keys))
    return out


def fast_na(q, k, v, rpb, kernel, dilation):
    return na_av(torch.softmax(na_qk(q, k, rpb, kernel, dilation), dim=-1), v, kernel, dilation)


@pytest.mark.parametrize("length,kernel,dilation", [
    (12, 3, 1), (13, 5, 1), (20, 5, 2), (23, 5, 3), (31, 7, 4), (40, 5, 8),  # >= kernel x dilation
    (3, 5, 1), (9, 5, 2), (7, 3, 4), (5, 5, 3), (1, 3, 1),                  # shorter than kernel x dilation
])
def test_1d_matches_the_naive_definition(length, kernel, dilation):
    gen = torch.Generator().manual_seed(length * 100 + kernel * 10 + dilation)
    q, k, v = (torch.randn(2, 2, length, 4, generator=gen, dtype=torch.float64) for _ in range(3))
    rpb = torch.randn(2, 2 * kernel - 1, generator=gen, dtype=torch.float64)
    np.testing.assert_allclose(fast_na(q, k, v, rpb, kernel, dilation).numpy(),
                               naive_na(q, k, v, rpb, kernel, dilation).numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("height,width,kernel,dilation", [(5, 17, 5, 1), (4, 9, 3, 2), (7, 12, 3, 3), (4, 3, 5, 1)])
def test_2d_matches_the_naive_definition(height, width, kernel, dilation):
    gen = torch.Generator().manual_seed(height * 1000 + width)
    q, k, v = (torch.randn(1, 2, height, width, 3, generator=gen, dtype=torch.float64) for _ in range(3))
    rpb = torch.randn(2, 2 * kernel - 1, 2 * kernel - 1, generator=gen, dtype=torch.float64)
    np.testing.assert_allclose(fast_na(q, k, v, rpb, kernel, dilation).numpy(),
                               naive_na(q, k, v, rpb, kernel, dilation).numpy(), rtol=0, atol=1e-12)


def test_windows_shift_at_the_edges_and_keep_their_size():
    keys, bias, valid = neighborhoods(10, 5, 1)
    assert keys[0].tolist() == [0, 1, 2, 3, 4] and keys[9].tolist() == [5, 6, 7, 8, 9]
    assert bias[0].tolist() == [4, 5, 6, 7, 8] and bias[5].tolist() == [2, 3, 4, 5, 6]
    keys, _, _ = neighborhoods(20, 3, 4)  # dilation 4: query 18 (group 2) sees 10, 14, 18
    assert keys[18].tolist() == [10, 14, 18] and keys[1].tolist() == [1, 5, 9]
    assert bool(valid.all())


def test_a_ten_minute_axis_runs_without_a_square_matrix():
    """60000 frames (10 minutes at 100 fps): scores are (..., T, k), never T x T."""
    length = 60_000
    q, k, v = (torch.randn(1, 2, length, 12) for _ in range(3))
    scores = na_qk(q, k, torch.zeros(2, 9), 5, 1024)
    assert scores.shape == (1, 2, length, 5)
    assert na_av(torch.softmax(scores, -1), v, 5, 1024).shape == (1, 2, length, 12)
