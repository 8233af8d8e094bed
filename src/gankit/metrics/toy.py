"""Metrics for low-dimensional worlds. Inputs are NumPy arrays in data units, shape (N, dim).

Mixtures follow the PacGAN protocol (Lin et al. 2018, section 5.1, after VEEGAN): a sample
belongs to the mode it is nearest to in standard deviations of each mode (distance / std, as
PacGAN's MetricLogger measures it; for equal stds the plainly nearest mode) and is *high quality*
when that is below 3; a mode is *covered* when at least one high-quality sample is its;
*reverse KL* is KL(histogram of high-quality samples over modes || the mixture's weights), in
nats. PacGAN evaluates 2,500 samples.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def mixture_metrics(samples: np.ndarray, means: np.ndarray, stds: np.ndarray, weights=None) -> dict:
    samples = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    means = np.asarray(means, dtype=np.float64).reshape(len(means), -1)
    stds = np.broadcast_to(np.asarray(stds, dtype=np.float64), (len(means),))
    k = len(means)
    weights = np.full(k, 1.0 / k) if weights is None else np.asarray(weights) / np.sum(weights)
    # (N, k) distances in each mode's standard deviations
    dist = np.linalg.norm(samples[:, None, :] - means[None, :, :], axis=2) / stds[None, :]
    nearest = dist.argmin(1)
    good = dist[np.arange(len(samples)), nearest] < 3
    counts = np.bincount(nearest[good], minlength=k)
    if good.any():
        p = counts / counts.sum()
        nz = p > 0
        reverse_kl = float(np.sum(p[nz] * np.log(p[nz] / weights[nz])))
    else:
        reverse_kl = float("inf")
    return {
        "modes": int((counts > 0).sum()),
        "n_modes": k,
        "high_quality": float(good.mean()),
        "reverse_kl": reverse_kl,
    }


def univariate_metrics(samples: np.ndarray, target, scale: float) -> dict:
    """Wasserstein-1 and Kolmogorov-Smirnov distance of 1-D samples to a target.

    `target` is a frozen scipy distribution (exact comparison) or an array of reference samples.
    `w1_std` divides W1 by `scale`, the target's standard deviation.
    """
    x = np.asarray(samples, dtype=np.float64).ravel()
    if isinstance(target, np.ndarray):
        w1 = stats.wasserstein_distance(x, target.ravel())
        ks = stats.ks_2samp(x, target.ravel()).statistic
    else:
        # W1 = integral |F_n - F|: the empirical quantiles against the target's quantiles at
        # a fine grid of levels is accurate to well below the sampling noise.
        levels = (np.arange(100_000) + 0.5) / 100_000
        w1 = stats.wasserstein_distance(x, target.ppf(levels))
        ks = stats.kstest(x, target.cdf).statistic
    return {"w1": float(w1), "w1_std": float(w1 / scale), "ks": float(ks)}


def sequence_metrics(samples: np.ndarray, low: float = 0.0, high: float = 10.0) -> dict:
    """The series [a, b, c, c+1, c+2]: % valid and KS of a, b, c against U(low, high)."""
    x = np.asarray(samples, dtype=np.float64)
    valid = (np.abs(x[:, 3] - x[:, 2] - 1) < 0.1) & (np.abs(x[:, 4] - x[:, 3] - 1) < 0.1)
    uniform = stats.uniform(loc=low, scale=high - low)
    out = {"valid": float(valid.mean())}
    for i, name in enumerate("abc"):
        out[f"ks_{name}"] = float(stats.kstest(x[:, i], uniform.cdf).statistic)
    return out


def sliced_w1(samples: np.ndarray, reference: np.ndarray, n_dirs: int = 64, seed: int = 0) -> float:
    """Mean 1-D Wasserstein-1 distance over random unit directions (data units)."""
    rng = np.random.default_rng(seed)
    dirs = rng.standard_normal((n_dirs, samples.shape[1]))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    return float(
        np.mean([stats.wasserstein_distance(samples @ d, reference @ d) for d in dirs])
    )


def column_w1(samples: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(dim,) each column's Wasserstein-1 distance, in that column's standard deviations in
    `reference` (a constant column: in data units)."""
    std = reference.std(0)
    std = np.where(std > 0, std, 1.0)
    return np.array([stats.wasserstein_distance(samples[:, j], reference[:, j]) / std[j]
                     for j in range(reference.shape[1])])
