"""Neighborhood attention (Hassani et al., "Neighborhood Attention Transformer" and "Dilated
Neighborhood Attention Transformer") in plain PyTorch, with the semantics of NATTEN's
``natten1dqkrpb`` / ``natten1dav`` and ``natten2dqkrpb`` / ``natten2dav`` that allin1 calls.

Along an axis of length ``L`` with kernel size ``k`` and dilation ``d``, the positions fall into
``d`` groups by their remainder modulo ``d``; group ``g`` holds ``L_g`` positions ``g, g + d, ...``.
A query at group index ``m`` attends to the ``k`` consecutive group members starting at
``clamp(m - k // 2, 0, L_g - k)``: at the edges the window shifts inwards instead of running over
zero padding, so every query sees exactly ``k`` keys. A group shorter than ``k`` (only when
``L < k * d``, which NATTEN refuses) is attended to whole. The relative positional bias of a
key at group index ``n`` is ``rpb[h, n - m + k - 1]`` (one index per axis in 2-D, the window
being the product of the per-axis windows).

Nothing of size ``L x L`` is ever built: scores are ``(..., L, k)`` (``k * k`` in 2-D), and keys
and values are gathered one window slot at a time, so memory grows linearly with the length.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import product

import torch

from ...errors import ConfigError

__all__ = ["clear_window_cache", "na_av", "na_qk", "neighborhoods"]


@lru_cache(maxsize=64)
def _tables(length: int, kernel_size: int, dilation: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cached tables, made as normal tensors even under ``torch.inference_mode`` (a table first
    built while analysing must still serve training, where autograd saves it)."""
    with torch.inference_mode(False):
        return _window_tables(length, kernel_size, dilation)


def _window_tables(length: int, kernel_size: int, dilation: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    position = torch.arange(length)
    group, index = position % dilation, position // dilation
    group_length = (length - group + dilation - 1) // dilation
    start = torch.minimum((index - kernel_size // 2).clamp(min=0), (group_length - kernel_size).clamp(min=0))
    member = start[:, None] + torch.arange(kernel_size)[None, :]
    valid = member < group_length[:, None]
    keys = torch.where(valid, group[:, None] + member * dilation, position[:, None])
    bias = torch.where(valid, member - index[:, None] + kernel_size - 1, 0)
    return keys, bias, valid


def clear_window_cache() -> None:
    """Forget the cached window tables (a graph exporter that traces with placeholder tensors
    must not leave them behind)."""
    _tables.cache_clear()


def neighborhoods(length: int, kernel_size: int, dilation: int,
                  device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The window of every position along one axis.

    Args:
        length: positions on the axis. kernel_size: keys per query (odd). dilation: step between keys.

    Returns:
        ``(keys, bias, valid)``, each (length, kernel_size): the key positions (int64), their
        relative-position-bias indices in ``[0, 2 * kernel_size - 1)`` and whether the slot is used
        (False only in groups shorter than the kernel; such slots point at the query itself).
    """
    keys, bias, valid = _tables(int(length), int(kernel_size), int(dilation))
    return keys.to(device), bias.to(device), valid.to(device)


def _gather(tensor: torch.Tensor, tables: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
            slot: tuple[int, ...]) -> torch.Tensor:
    """(B, H, *S, C) -> the key (or value) at window ``slot`` of every position, (B, H, *S, C)."""
    for axis, ((keys, _, _), r) in enumerate(zip(tables, slot)):
        shape = tensor.shape  # selecting along the middle of a 3-D view is much faster than along dim 2 + axis
        tensor = tensor.reshape(shape[:2 + axis].numel(), shape[2 + axis], shape[3 + axis:].numel())
        tensor = tensor.index_select(1, keys[:, r]).reshape(shape)
    return tensor


def _axis_tables(shape: torch.Size, kernel_size: int, dilation: int,
                 device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    if kernel_size % 2 != 1 or kernel_size < 1 or dilation < 1:
        raise ConfigError(f"neighborhood attention needs an odd kernel size and dilation >= 1, "
                          f"got {kernel_size} and {dilation}")
    return [neighborhoods(n, kernel_size, dilation, device) for n in shape]


def na_qk(query: torch.Tensor, key: torch.Tensor, rpb: torch.Tensor | None, kernel_size: int,
          dilation: int) -> torch.Tensor:
    """Attention scores of every query with its neighbourhood (NATTEN's ``natten{1,2}dqkrpb``).

    Args:
        query, key: (B, H, L, C) for 1-D or (B, H, X, Y, C) for 2-D (queries already scaled).
        rpb: relative positional biases, (H, 2k - 1) in 1-D or (H, 2k - 1, 2k - 1) in 2-D; None for none.
        kernel_size: ``k``, keys per axis (odd). dilation: step between neighbours.

    Returns:
        (B, H, L, k) or (B, H, X, Y, k * k) scores, slots in row-major window order; slots that
        do not exist (groups shorter than ``k``) are ``-inf``.
    """
    spatial = query.shape[2:-1]
    tables = _axis_tables(spatial, kernel_size, dilation, query.device)
    scores = []
    for slot in product(range(kernel_size), repeat=len(spatial)):
        score = (query * _gather(key, tables, slot)).sum(-1)
        grids = torch.meshgrid(*[bias[:, r] for (_, bias, _), r in zip(tables, slot)], indexing="ij")
        if rpb is not None:
            score = score + rpb[(slice(None), *grids)]
        valid = torch.ones(spatial, dtype=torch.bool, device=query.device)
        for axis, ((_, _, ok), r) in enumerate(zip(tables, slot)):
            valid = valid & ok[:, r].reshape([-1 if a == axis else 1 for a in range(len(spatial))])
        scores.append(score.masked_fill(~valid, float("-inf")))
    return torch.stack(scores, dim=-1)


def na_av(probs: torch.Tensor, value: torch.Tensor, kernel_size: int, dilation: int) -> torch.Tensor:
    """Weighted sum of the neighbourhood values (NATTEN's ``natten{1,2}dav``).

    Args:
        probs: (B, H, L, k) or (B, H, X, Y, k * k) attention weights, as :func:`na_qk` orders them.
        value: (B, H, L, C) or (B, H, X, Y, C).
        kernel_size, dilation: as given to :func:`na_qk`.

    Returns:
        (B, H, L, C) or (B, H, X, Y, C).
    """
    tables = _axis_tables(value.shape[2:-1], kernel_size, dilation, value.device)
    out = torch.zeros_like(value)
    for s, slot in enumerate(product(range(kernel_size), repeat=len(tables))):
        out = out + probs[..., s, None] * _gather(value, tables, slot)
    return out
