"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs").

The unbiased estimate of the squared MMD between feature sets with the cubic polynomial kernel
k(x, y) = (x . y / d + 1)^3, averaged over `subsets` random subsets of `subset_size` samples from
each set (the paper's and torch-fidelity's defaults: 100 subsets of 1,000). Unbiased, so it can
be slightly negative when the two sets come from one distribution. Reported as mean and std over
the subsets. When the two sets are equally large and no larger than a subset, every subset pair
would be the two whole sets: KID is then computed once, and `kid_std` is None (there is no spread
to report, and 0 would claim a certainty the estimate does not have).
"""

from __future__ import annotations

import numpy as np

MIN_SAMPLES = 2  # per set: the unbiased estimate leaves out each sample's pair with itself


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3) -> float:
    """Unbiased MMD^2 of (m, D) and (n, D): diagonals of K_xx and K_yy excluded."""
    m, n = len(x), len(y)
    kxx, kyy = polynomial_kernel(x, x, degree), polynomial_kernel(y, y, degree)
    kxy = polynomial_kernel(x, y, degree)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                 + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean())


def kid(features1: np.ndarray, features2: np.ndarray, subsets: int = 100,
        subset_size: int = 1000, seed: int = 0) -> dict:
    """{"kid": mean, "kid_std": std (or None)} of the unbiased MMD^2 over random subsets."""
    x, y = np.asarray(features1, np.float64), np.asarray(features2, np.float64)
    size = min(subset_size, len(x), len(y))
    if size < MIN_SAMPLES:
        raise ValueError(f"KID needs at least {MIN_SAMPLES} samples in each set")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("features hold NaN or Inf")
    if size == len(x) == len(y):
        return {"kid": mmd2_unbiased(x, y), "kid_std": None}
    rng = np.random.default_rng(seed)
    values = [mmd2_unbiased(x[rng.choice(len(x), size, replace=False)],
                            y[rng.choice(len(y), size, replace=False)]) for _ in range(subsets)]
    return {"kid": float(np.mean(values)), "kid_std": float(np.std(values))}
