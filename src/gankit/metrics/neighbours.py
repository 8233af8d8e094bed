"""k-nearest-neighbour balls in feature space, shared by precision/recall and density/coverage."""

from __future__ import annotations

import numpy as np
import torch

CHUNK = 2048  # rows of the distance matrix computed at once: 2048 x N floats


def _float64(features: np.ndarray) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(features), dtype=torch.float64)
    if not torch.isfinite(x).all():  # a NaN distance is never inside a ball: it would count as 0
        raise ValueError("features hold NaN or Inf")
    return x


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cdist(a, b)  # float64 throughout, so the matmul form is accurate enough


def min_points(k: int) -> int:
    """The fewest points a set needs for every point to have a k-th nearest other point."""
    return k + 1


def kth_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point (N, D) to its k-th nearest other point in the same set."""
    x = _float64(features)
    if len(x) < min_points(k):
        raise ValueError(f"need at least {min_points(k)} points for k={k}, got {len(x)}")
    out = [_distances(x[i:i + CHUNK], x).kthvalue(k + 1, dim=1).values  # +1: the point itself
           for i in range(0, len(x), CHUNK)]
    return torch.cat(out).numpy()


def in_balls(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, strict: bool = False
             ) -> tuple[np.ndarray, np.ndarray]:
    """Balls of `radii` (M,) around `centres` (M, D) against `points` (N, D): per point, how many
    balls hold it (N,) int; per ball, whether it holds any point (M,) bool.

    Inside means distance <= radius (Kynkäänniemi et al.'s code), or < radius with `strict`
    (Naeem et al.'s code: a ball then holds exactly its centre's k nearest neighbours, so the
    density of a set against itself is 1, not (k + 1) / k).
    """
    p, c = _float64(points), _float64(centres)
    r = torch.as_tensor(np.asarray(radii), dtype=torch.float64)
    per_point, hit = torch.zeros(len(p), dtype=torch.long), []
    # Rows are centres, as in kth_radii: a set against itself then compares bit-identical
    # distances with its radii (matmul-based cdist is not exactly symmetric).
    for i in range(0, len(c), CHUNK):
        d = _distances(c[i:i + CHUNK], p)
        inside = d < r[i:i + CHUNK, None] if strict else d <= r[i:i + CHUNK, None]
        per_point += inside.sum(0)
        hit.append(inside.any(1))
    return per_point.numpy(), torch.cat(hit).numpy()
