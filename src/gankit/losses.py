"""GAN losses as pure functions of discriminator logits, chosen by name.

Every loss is a `GANLoss` pair with one signature per player:
  d(real_logits, fake_logits, real_target) -> scalar loss for D
  g(fake_logits)                           -> scalar loss for G
The G step never computes real logits, so G's half does not take them. Logits are D's raw outputs;
the probability D(x) is sigmoid(logit) for the losses with `prob=True`. Everything is written with
softplus (log(1 + e^x)) so no loss ever takes log(sigmoid(x)) of a saturated sigmoid:
  -log D(x)      = softplus(-x)
  -log(1 - D(x)) = softplus(x)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gankit.registry import Registry

Tensor = torch.Tensor


@dataclass(frozen=True)
class GANLoss:
    d: Callable[[Tensor, Tensor, float], Tensor]
    g: Callable[[Tensor], Tensor]
    prob: bool  # D's output is a probability through a sigmoid (label smoothing applies)
    doc: str
    boundary: float | None = 0.0  # D's output where it calls a sample real; None for a critic


LOSSES = Registry("loss")


def _bce_d(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    # -t log D(x) - (1 - t) log(1 - D(x)) - log(1 - D(G(z))); t < 1 is one-sided label smoothing.
    real_term = real_target * F.softplus(-real) + (1.0 - real_target) * F.softplus(real)
    return real_term.mean() + F.softplus(fake).mean()


def _minimax_g(fake: Tensor) -> Tensor:
    # G minimises log(1 - D(G(z))) = -softplus(logit); its gradient vanishes as D(G(z)) -> 0.
    return -F.softplus(fake).mean()


def _nonsaturating_g(fake: Tensor) -> Tensor:
    # G minimises -log D(G(z)) = softplus(-logit): strong gradient exactly where D wins.
    return F.softplus(-fake).mean()


def _wasserstein_d(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    return fake.mean() - real.mean()


def _critic_g(fake: Tensor) -> Tensor:
    return -fake.mean()


def _hinge_d(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def _least_squares_d(real: Tensor, fake: Tensor, real_target: float = 1.0) -> Tensor:
    # LSGAN with a=0 (fake), b=1 (real, or 1 - smoothing), c=1.
    return 0.5 * ((real - real_target) ** 2).mean() + 0.5 * (fake**2).mean()


def _least_squares_g(fake: Tensor) -> Tensor:
    return 0.5 * ((fake - 1.0) ** 2).mean()


LOSSES["minimax"] = GANLoss(
    _bce_d, _minimax_g, True, "Goodfellow et al. 2014: G minimises log(1 - D(G(z)))"
)
LOSSES["nonsaturating"] = GANLoss(
    _bce_d, _nonsaturating_g, True, "G minimises -log D(G(z)); the usual default"
)
LOSSES["wasserstein"] = GANLoss(
    _wasserstein_d, _critic_g, False, "WGAN critic; pair with clipping or gradient_penalty", None
)
LOSSES["hinge"] = GANLoss(_hinge_d, _critic_g, False, "hinge loss (SAGAN, BigGAN)")
LOSSES["least_squares"] = GANLoss(
    _least_squares_d, _least_squares_g, False, "LSGAN (Mao et al. 2017), targets 0/1", 0.5
)
