"""Drawing from a trained generator, reproducibly and in batches."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def latent(n: int, z_dim: int, generator: torch.Generator) -> torch.Tensor:
    """z ~ N(0, I), (n, z_dim), drawn on the CPU so every device sees the same numbers."""
    return torch.randn(n, z_dim, generator=generator)


@torch.no_grad()
def generate(G: nn.Module, n: int, seed: int, batch: int = 10_000) -> torch.Tensor:
    """(n, dim) samples in model space on the CPU; G runs in eval mode on its own device."""
    device = next(G.parameters()).device
    was_training = G.training
    G.eval()
    g = torch.Generator().manual_seed(seed)
    try:
        parts = [G(latent(min(batch, n - i), G.z_dim, g).to(device)).cpu()
                 for i in range(0, n, batch)]
    finally:
        G.train(was_training)
    return torch.cat(parts) if parts else torch.empty(0, G.dim)


def evaluate(G: nn.Module, data, n: int | None = None, seed: int = 2024,
             to_data: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict:
    """The world's metrics on n generated samples (default: the protocol's number).

    `to_data` maps model space to data units (default: the data's own map).
    """
    n = n or data.default_eval_n
    x = (to_data or data.to_data)(generate(G, n, seed)).numpy()
    return {"n": n, **data.metrics(x)}
