"""Improved precision and recall (Kynkäänniemi et al. 2019), k = 3.

Each real feature vector gets a ball reaching its k-th nearest real neighbour; the union of those
balls estimates the real manifold. Precision = share of generated samples inside it (are the
samples realistic?); recall = share of real samples inside the balls built the same way around
the generated samples (does G cover the data?). The paper uses VGG-16 features and 50,000 samples
a side; gankit uses whichever extractor the evaluation names (InceptionV3 pool features for
images) and says so in its output.
"""

from __future__ import annotations

import numpy as np

from gankit.metrics.neighbours import in_balls, kth_radii


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict:
    fake_in_real, _ = in_balls(fake, real, kth_radii(real, k))
    real_in_fake, _ = in_balls(real, fake, kth_radii(fake, k))
    return {"precision": float((fake_in_real > 0).mean()),
            "recall": float((real_in_fake > 0).mean())}
