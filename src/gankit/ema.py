"""Exponential moving average of the generator's weights (Yazici et al. 2019)."""

from __future__ import annotations

import torch
from torch import nn

from gankit.sampling import latent


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model for parameters; buffers are copied.

    Copying BatchNorm statistics from the live G (as StyleGAN2-ADA does) is an approximation:
    they belong to G's current weights, which the average trails closely once training settles.
    """
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1.0 - decay)
    for e, b in zip(ema.buffers(), model.buffers()):
        e.copy_(b)


@torch.no_grad()
def standing_stats(G: nn.Module, batches: int = 40, batch: int = 250, seed: int = 0) -> int:
    """Re-estimate G's batch-norm running statistics from its own samples; the count of BN layers.

    `ema_update` copies the live G's statistics, which belong to the live weights, not to their
    average. Here each BN layer's mean and variance become the plain average over `batches`
    batches of z ~ N(0, I) through G (BigGAN's "standing statistics", Brock et al. 2019); a
    conditional G sees its classes in turn. Only the BN layers run in train mode, so nothing else
    moves (spectral norm's power iteration, for one). G is left in eval mode.
    """
    bns = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return 0
    device = next(G.parameters()).device
    g = torch.Generator().manual_seed(seed)
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # None: a cumulative average over every batch seen
    G.eval()
    for m in bns:
        m.train()
    n_classes = getattr(G, "n_classes", 0)
    for i in range(batches):
        z = latent(batch, G.z_dim, g).to(device)
        if n_classes:
            G(z, (torch.arange(batch, device=device) + i * batch) % n_classes)
        else:
            G(z)
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum
    G.eval()
    return len(bns)
