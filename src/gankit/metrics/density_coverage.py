"""Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics"), k = 5.

Balls reach each real sample's k-th nearest real neighbour. Density = (1 / kM) * sum over the M
generated samples of the number of real balls holding each (about 1 when the two distributions
match; above 1 where samples crowd dense regions). Coverage = share of real balls that hold at
least one generated sample. "Holds" is strict (distance < radius), as in the authors' code, so a
set scores density 1 and coverage 1 against itself. Both use only balls around real samples, so
outliers among the generated samples cannot inflate them (the flaw of precision/recall they fix).
"""

from __future__ import annotations

import numpy as np

from gankit.metrics.neighbours import in_balls, kth_radii


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict:
    if len(fake) < 1:
        raise ValueError("density and coverage need at least 1 generated sample")
    counts, hit = in_balls(fake, real, kth_radii(real, k), strict=True)
    return {"density": float(counts.sum() / (k * len(fake))), "coverage": float(hit.mean())}
