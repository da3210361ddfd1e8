"""Turning a distance into the probability that two recordings are versions of one work.

A logistic curve ``p(d) = 1 / (1 + exp(-(intercept + slope * d)))`` is fitted by maximum
likelihood (Newton's method) to validation pairs: every pair of validation recordings, labelled
same work or not. The two classes are weighted equally (each class's weights sum to one half),
so ``p`` is the probability under an even prior, whatever the share of positive pairs in the
validation set; ``threshold``, the distance where ``p = 0.5``, is the equal-prior decision
threshold. A small ridge penalty (0.001 on the coefficients of the standardised distance) keeps
the curve finite when the validation pairs separate perfectly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np

from ..errors import InputError

__all__ = ["Calibration", "fit_calibration"]

_ITERATIONS = 50
_RIDGE = 1e-3


@dataclass(frozen=True)
class Calibration:
    """A fitted curve: ``intercept`` and ``slope`` (per distance unit), the 0.5 ``threshold``
    (distance units), and how many ``positives`` (same-work) and ``negatives`` pairs fitted it."""

    intercept: float
    slope: float
    threshold: float
    positives: int
    negatives: int

    def confidence(self, distance: float | np.ndarray) -> float | np.ndarray:
        """P(same work | distance) in [0, 1]."""
        z = np.clip(self.intercept + self.slope * np.asarray(distance, dtype=float), -500, 500)
        out = 1.0 / (1.0 + np.exp(-z))
        return float(out) if np.ndim(out) == 0 else out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Calibration":
        return cls(float(data["intercept"]), float(data["slope"]), float(data["threshold"]), int(data["positives"]),
                   int(data["negatives"]))


def fit_calibration(distances: np.ndarray, same: np.ndarray) -> Calibration:
    """Fit the class-balanced logistic curve to validation pairs.

    Args:
        distances: (n,) distance of each pair. same: (n,) bool, True for versions of one work.

    Raises:
        InputError: no positive or no negative pair (nothing to calibrate against).
    """
    d = np.asarray(distances, dtype=float)
    y = np.asarray(same, dtype=bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if not positives or not negatives:
        raise InputError("calibration needs pairs of the same work and of different works "
                         f"(got {positives} and {negatives}): give at least two works, one with two performances")
    scale = max(float(d.std()), 1e-12)
    x = np.stack([np.ones_like(d), (d - d.mean()) / scale], axis=1)
    weights = np.where(y, 0.5 / positives, 0.5 / negatives)
    beta = np.zeros(2)
    for _ in range(_ITERATIONS):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -500, 500)))
        gradient = x.T @ (weights * (y - p)) - _RIDGE * beta
        hessian = (x * (weights * p * (1 - p))[:, None]).T @ x + _RIDGE * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    slope = beta[1] / scale
    intercept = beta[0] - slope * d.mean()
    threshold = -intercept / slope if slope != 0 else float("nan")
    return Calibration(float(intercept), float(slope), float(threshold), positives, negatives)
