"""What every dataset offers the trainer: batches in model space and a way back to data units."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch

from gankit.errors import GankitError


class VectorData(ABC):
    """Vector data of `dim` dimensions. Model space is (x - shift) / scale, per dimension.

    Subclasses implement `draw(n, generator)` in data units and `metrics(samples)`.
    `default_eval_n` is the number of samples the evaluation protocol uses.
    """

    dim: int
    default_eval_n = 10_000
    n_classes = 0  # vector worlds are unconditional

    def __init__(self, dim: int, shift=0.0, scale=1.0):
        self.dim = dim
        self.shift = torch.as_tensor(np.broadcast_to(shift, (dim,)).copy(), dtype=torch.float32)
        self.scale = torch.as_tensor(np.broadcast_to(scale, (dim,)).copy(), dtype=torch.float32)

    @abstractmethod
    def draw(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(n, dim) float32 samples in data units."""

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(n, dim) float32 batch in model space, drawn with `generator` (CPU)."""
        return self.to_model(self.draw(n, generator))

    def batch(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, None]:
        """A real batch in model space and its class input (none for vectors)."""
        return self.sample(n, generator), None

    def fake_labels(self, n: int, generator: torch.Generator) -> None:
        return None

    @property
    def net_shape(self) -> dict:
        """The data's side of the networks' constructor arguments."""
        return {"dim": self.dim}

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift.to(x.device)) / self.scale.to(x.device)

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.to(x.device) + self.shift.to(x.device)

    def fingerprint(self) -> str | None:
        """A digest of the data's contents that a resume compares, or None where `check_map`
        (the exact mean and scale of vector data) already tells one dataset from another."""
        return None

    def check_map(self, shift: torch.Tensor, scale: torch.Tensor, where: str) -> None:
        """Fail if a run saved another model-space map than this data gives (the file changed)."""
        if not (torch.equal(self.shift, shift) and torch.equal(self.scale, scale)):
            raise GankitError(f"{where}: the data's mean and scale differ from when the run was "
                              "saved (was the data file changed?); retrain on it in a new run")

    @abstractmethod
    def metrics(self, samples: np.ndarray) -> dict:
        """The world's quality metrics for (N, dim) samples in data units."""

    def reference(self, n: int, seed: int = 0) -> np.ndarray:
        """n real samples in data units, for pictures and sanity checks."""
        g = torch.Generator().manual_seed(seed)
        return self.draw(n, g).numpy()

    def extent_sample(self) -> torch.Tensor:
        """Samples (data units) that show how far the data reaches."""
        return self.draw(20_000, torch.Generator().manual_seed(0))

    def check_output(self, out: str | None) -> None:
        """A bounded G output (tanh, sigmoid) must reach the data, which is standardised."""
        bounds = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}.get(out)
        if bounds is None:
            return
        x = self.to_model(self.extent_sample())
        lo, hi = float(x.min()), float(x.max())
        if lo < bounds[0] or hi > bounds[1]:
            raise GankitError(f"generator.out={out!r} gives values in {bounds}, but this data "
                              f"spans [{lo:.2f}, {hi:.2f}] in the model's (standardised) units; "
                              "use generator.out=identity")
