"""Drawing from a trained generator, reproducibly and in batches."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gankit.errors import GankitError


def latent(n: int, z_dim: int, generator: torch.Generator) -> torch.Tensor:
    """z ~ N(0, I), (n, z_dim), drawn on the CPU so every device sees the same numbers."""
    return torch.randn(n, z_dim, generator=generator)


def draw_batch(G: nn.Module) -> int:
    """Samples drawn at a time: vectors all at once, images 250 (bounds activation memory)."""
    return 10_000 if hasattr(G, "dim") else 250


@torch.no_grad()
def decode(G, z: torch.Tensor, labels: torch.Tensor | None = None, batch: int = 250
           ) -> torch.Tensor:
    """G on given latents (N, z_dim) in eval mode, on G's device; model space, on the CPU.

    `batch` latents at a time bound the activations' memory (4,000 at once took 2.2 GB at 64 px).
    """
    device = next(G.parameters()).device
    was = G.training
    G.eval()
    parts = []
    try:
        for i in range(0, len(z), batch):
            zi = z[i:i + batch].to(device)
            parts.append((G(zi) if labels is None else G(zi, labels[i:i + batch].to(device))).cpu())
    finally:
        G.train(was)
    return torch.cat(parts)


@torch.no_grad()
def generate(G: nn.Module, n: int, seed: int, batch: int | None = None,
             labels: torch.Tensor | None = None) -> torch.Tensor:
    """(n, ...) samples in model space on the CPU; G runs in eval mode on its own device.

    A conditional G draws `labels` (n,), by default the classes in turn: 0, 1, ..., K - 1, 0, ...
    """
    if n == 0:
        return torch.empty(0, getattr(G, "dim", 0))
    n_classes = getattr(G, "n_classes", 0)
    if n_classes and labels is None:
        labels = torch.arange(n) % n_classes
    batch = batch or draw_batch(G)
    g = torch.Generator().manual_seed(seed)
    # drawn batch by batch, as they always were, so a seed gives the same samples as before
    z = torch.cat([latent(min(batch, n - i), G.z_dim, g) for i in range(0, n, batch)])
    return decode(G, z, labels, batch)


def evaluate(G: nn.Module, data, n: int | None = None, seed: int = 2024,
             to_data: Callable[[torch.Tensor], torch.Tensor] | None = None,
             draw: Callable | None = None) -> dict:
    """The world's metrics on n generated samples (default: the protocol's number).

    `to_data` maps model space to data units (default: the data's own map). A conditional G
    draws every class in turn, and the metrics learn which class each sample was asked for.
    `draw` (a gankit.rejection.Sampler) replaces G's plain samples, e.g. by those DRS keeps; its
    share of kept samples is reported as `accept_rate`.
    """
    n = data.default_eval_n if n is None else n
    if n < 1:
        raise GankitError(f"n={n}: evaluate at least 1 sample (None: the protocol's number)")
    n_classes = getattr(G, "n_classes", 0)
    labels = torch.arange(n) % n_classes if n_classes else None
    drawn = draw(n, seed, labels) if draw is not None else None
    model = drawn.x if drawn is not None else generate(G, n, seed, labels=labels)
    extra = {} if drawn is None or drawn.log_m is None else {
        "accept_rate": round(drawn.accept_rate, 4)}
    shape = data.net_shape
    want = ((shape["dim"],) if "dim" in shape
            else (shape["channels"], shape["resolution"], shape["resolution"]))
    if tuple(model.shape[1:]) != want:
        raise GankitError(f"the generator draws samples of shape {tuple(model.shape[1:])}; "
                          f"this data's are {want}: evaluate a run on its own data")
    x = (to_data or data.to_data)(model).numpy()
    given = {} if labels is None else {"labels": labels.numpy()}
    return {"n": n, **data.metrics(x, **given), **extra}
