"""Inception Score (Salimans et al. 2016): exp(E_x KL(p(y|x) || p(y))).

Computed as in the reference code: the samples are cut into `splits` (10) parts (rows
i * N // splits to (i + 1) * N // splits, as the reference slices them), the score
is taken in each with p(y) the part's mean prediction, and the mean and std over the parts are
reported. Input: classifier logits (N, classes); the standard network is InceptionV3 with its
1,008-way output (the 2015 TensorFlow graph).
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

SPLITS = 10  # the reference code's parts, so also the fewest samples it takes


def inception_score(logits: np.ndarray, splits: int = SPLITS) -> dict:
    logp = log_softmax(np.asarray(logits, np.float64), axis=1)
    if len(logp) < splits:
        raise ValueError(f"the Inception Score needs at least {splits} samples, got {len(logp)}")
    scores = []
    n = len(logp)
    for part in (logp[i * n // splits:(i + 1) * n // splits] for i in range(splits)):
        log_marginal = np.log(np.exp(part).mean(0))
        kl = (np.exp(part) * (part - log_marginal)).sum(1)
        scores.append(np.exp(kl.mean()))
    return {"is": float(np.mean(scores)), "is_std": float(np.std(scores))}
