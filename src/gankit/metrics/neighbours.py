"""k-nearest-neighbour balls in feature space, shared by precision/recall and density/coverage."""

from __future__ import annotations

import numpy as np
import torch

CHUNK = 2048  # rows of the distance matrix computed at once: 2048 x N floats


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cdist(a, b)  # float64 throughout, so the matmul form is accurate enough


def kth_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point (N, D) to its k-th nearest other point in the same set."""
    x = torch.as_tensor(np.asarray(features), dtype=torch.float64)
    if len(x) <= k:
        raise ValueError(f"need more than k={k} points, got {len(x)}")
    out = [_distances(x[i:i + CHUNK], x).kthvalue(k + 1, dim=1).values  # +1: the point itself
           for i in range(0, len(x), CHUNK)]
    return torch.cat(out).numpy()


def in_balls(points: np.ndarray, centres: np.ndarray, radii: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Balls of `radii` (M,) around `centres` (M, D) against `points` (N, D): per point, how many
    balls hold it (N,) int; per ball, whether it holds any point (M,) bool. Distance <= radius."""
    p = torch.as_tensor(np.asarray(points), dtype=torch.float64)
    c = torch.as_tensor(np.asarray(centres), dtype=torch.float64)
    r = torch.as_tensor(np.asarray(radii), dtype=torch.float64)
    per_point, hit = [], torch.zeros(len(c), dtype=torch.bool)
    for i in range(0, len(p), CHUNK):
        inside = _distances(p[i:i + CHUNK], c) <= r[None, :]
        per_point.append(inside.sum(1))
        hit |= inside.any(0)
    return torch.cat(per_point).numpy(), hit.numpy()
