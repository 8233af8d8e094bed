"""Regularisers of the discriminator, pure functions of D and its input batches.

Signature: penalty(D, real, fake, generator, y) -> scalar, where `real` and `fake` are (B, ...)
batches of single samples, `generator` is the torch.Generator that draws any randomness, so runs
stay reproducible, and `y` the class input of a conditional D (None otherwise). The trainer
adds `weight * penalty` to D's loss.

With PacGAN packing (`D.pack = m`), one logit depends on m consecutive samples, so D's input is
the packed group: gradient norms are taken over the whole group, and an interpolate mixes a real
group and a fake group with one coefficient.
"""

from __future__ import annotations

import torch

from gankit.registry import Registry

PENALTIES = Registry("penalty")


def _grad_norm_sq(D, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """Squared norm of dD/d(input) per logit, (B / pack,); kept in the graph for one backward."""
    x = x.detach().requires_grad_(True)
    logits = D(x) if y is None else D(x, y)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    pack = getattr(D, "pack", 1)
    return grad.reshape(grad.shape[0] // pack, -1).pow(2).sum(1)


@PENALTIES.register("none")
def no_penalty(D, real, fake, generator, y=None):
    return real.new_zeros(())


@PENALTIES.register("gradient_penalty")
def gradient_penalty(D, real, fake, generator, y=None):
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad D(x_hat)|| - 1)^2] on random interpolates."""
    pack = getattr(D, "pack", 1)
    eps = torch.rand(real.shape[0] // pack, generator=generator).to(real.device, real.dtype)
    eps = eps.repeat_interleave(pack).reshape((-1,) + (1,) * (real.dim() - 1))
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    # sqrt(0) has an infinite gradient: a tiny floor keeps the penalty finite at grad = 0.
    norm = (_grad_norm_sq(D, x_hat, y) + 1e-12).sqrt()
    return ((norm - 1) ** 2).mean()


@PENALTIES.register("r1")
def r1_penalty(D, real, fake, generator, y=None):
    """R1 (Mescheder et al. 2018): E[||grad D(x_real)||^2]; weight = gamma / 2."""
    return _grad_norm_sq(D, real, y).mean()
