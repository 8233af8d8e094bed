"""Exponential moving average of the generator's weights (Yazici et al. 2019)."""

from __future__ import annotations

import torch
from torch import nn


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
