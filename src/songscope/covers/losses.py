"""CoverHunter's training losses, as CoverHunterMPS's ``src/loss.py`` defines them.

- :class:`FocalLoss`: ``mean_i (1 - p_i)^gamma * -log p_i`` with ``p_i = softmax(logits_i)[y_i] +
  eps`` (``eps`` = float32 machine epsilon), optionally weighted per class;
- :class:`HardTripletLoss`: batch-hard triplets on Euclidean distances,
  ``mean_i relu(max_{p: y_p = y_i, p != i} d(i, p) - min_{n: y_n != y_i} d(i, n) + margin)``;
- :class:`CenterLoss`: ``sum_i ||x_i - c_{y_i}||^2 / batch`` with learned centres ``centers``
  (each term clamped to [1e-12, 1e12]; the absent classes' zeros are clamped too, adding
  ``1e-12 * (classes - 1)`` per sample, as theirs does).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CenterLoss", "FocalLoss", "HardTripletLoss", "pairwise_distances"]

_EPS = torch.finfo(torch.float32).eps


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017) over class logits.

    Args:
        gamma: focusing exponent (0: cross-entropy).
        alpha: optional (classes,) class weights; the batch's weights are rescaled to sum to its size.
        reduction: ``mean`` or ``sum`` over the batch.
    """

    def __init__(self, gamma: float = 2.0, alpha: torch.Tensor | None = None, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', not {reduction!r}")
        self.gamma, self.reduction = float(gamma), reduction
        self.alpha = None if alpha is None else torch.as_tensor(alpha, dtype=torch.float32)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Loss of logits (B, classes) for labels (B,) (class indices): a scalar tensor."""
        labels = labels.long().view(-1, 1)
        p = (torch.softmax(logits, dim=1) + _EPS).gather(1, labels)
        loss = (1.0 - p) ** self.gamma * -torch.log(p)
        if self.alpha is not None:
            weights = self.alpha.to(logits.device)[labels]
            loss = loss * weights / weights.sum() * len(labels)
        loss = loss.squeeze(1)
        return loss.mean() if self.reduction == "mean" else loss.sum()


def pairwise_distances(x: torch.Tensor, eps: float = 1e-16) -> torch.Tensor:
    """Euclidean distances (B, B) between rows of ``x`` (B, D), from the Gram matrix; exact
    zeros stay zero (``eps`` keeps the square root's gradient finite there)."""
    gram = x @ x.t()
    norms = gram.diag()
    squared = F.relu(norms[:, None] - 2 * gram + norms[None, :])
    zero = (squared == 0).float()
    return torch.sqrt(squared + zero * eps) * (1.0 - zero)


class HardTripletLoss(nn.Module):
    """Batch-hard triplet loss: for each anchor, its farthest positive against its nearest negative.

    Args:
        margin: required gap between the two distances (Euclidean units of the embeddings).
    """

    def __init__(self, margin: float = 0.1):
        super().__init__()
        self.margin = float(margin)

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Loss of embeddings (B, D) with labels (B,): a scalar tensor."""
        dist = pairwise_distances(embeddings)
        same = labels[:, None] == labels[None, :]
        positive = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
        hardest_positive = (dist * positive.float()).max(dim=1).values
        # negatives: other labels; the rest pushed beyond every distance of the row
        row_max = dist.max(dim=1, keepdim=True).values
        hardest_negative = (dist + row_max * same.float()).min(dim=1).values
        return F.relu(hardest_positive - hardest_negative + self.margin).mean()


class CenterLoss(nn.Module):
    """Center loss (Wen et al. 2016): squared distance of each embedding to its class centre.

    Args:
        num_classes: classes. feat_dim: embedding size. The centres ``centers`` (classes,
            feat_dim) are parameters, initialised from a standard normal.
    """

    def __init__(self, num_classes: int, feat_dim: int):
        super().__init__()
        self.num_classes = num_classes
        self.centers = nn.Parameter(torch.randn(num_classes, feat_dim))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Loss of embeddings (B, feat_dim) with labels (B,): a scalar tensor."""
        distances = (x ** 2).sum(dim=1, keepdim=True) + (self.centers ** 2).sum(dim=1)[None, :] \
            - 2 * x @ self.centers.t()
        own = labels.long()[:, None] == torch.arange(self.num_classes, device=x.device)[None, :]
        return (distances * own.float()).clamp(min=1e-12, max=1e12).sum() / len(x)
