"""Fréchet Inception Distance (Heusel et al. 2017), as the TTUR and pytorch-fid code compute it.

FID = |mu_1 - mu_2|^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)) between Gaussians fitted to two sets of
features (means and unbiased covariances, float64). The reference code takes
scipy.linalg.sqrtm(S_1 S_2), which can return complex values and needs an epsilon retry on
near-singular covariances. Here Tr((S_1 S_2)^(1/2)) is the sum of the square roots of the
eigenvalues of S_1^(1/2) S_2 S_1^(1/2): the same eigenvalues (the matrices are similar), but of a
symmetric positive semi-definite matrix, so `eigh` gives them stably. The published MNIST and
Fashion-MNIST protocol (Lucic et al. 2018) compares 10,000 generated with the 10,000 test images.
"""

from __future__ import annotations

import numpy as np

MIN_SAMPLES = 2  # per set: the fewest an unbiased covariance takes


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < MIN_SAMPLES:
        raise ValueError(f"features must be (N >= {MIN_SAMPLES}, D), got {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError(f"features hold NaN or Inf in {int((~np.isfinite(f)).any(1).sum())} "
                         f"of {len(f)} rows")
    return f.mean(0), np.cov(f, rowvar=False)


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def fid_from_statistics(mu1, sigma1, mu2, sigma2) -> float:
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"statistics differ in shape: {mu1.shape} vs {mu2.shape}")
    root = _psd_sqrt(sigma1)
    middle = root @ sigma2 @ root
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)


def fid(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID between two feature sets (N1, D) and (N2, D)."""
    return fid_from_statistics(*statistics(features1), *statistics(features2))
