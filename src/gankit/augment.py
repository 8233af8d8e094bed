"""DiffAugment (Zhao et al. 2020): differentiable augmentations of D's input, real and fake alike.

With a few hundred training images D memorises them and G's training collapses; augmenting both
real and generated images the same random way before D (in D's step and in G's step, through
which gradients flow back to G) keeps D from overfitting without changing what G must produce.
Each function maps (B, C, H, W) images in [-1, 1] to the same shape, drawing its randomness
from a CPU generator so runs stay reproducible on any device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gankit.registry import Registry

AUGMENTS = Registry("augmentation")


def _rand(shape, generator, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(shape, generator=generator).to(like.device, like.dtype)


@AUGMENTS.register("color")
def color(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5) per image."""
    b = x.shape[0]
    x = x + (_rand((b, 1, 1, 1), generator, x) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand((b, 1, 1, 1), generator, x) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand((b, 1, 1, 1), generator, x) + 0.5) + mean


@AUGMENTS.register("translation")
def translation(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.125
                ) -> torch.Tensor:
    """Shift each image by up to `ratio` of its size; the uncovered border is 0 (mid-grey)."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (b, 1, 1), generator=generator).to(x.device)
    dx = torch.randint(-sw, sw + 1, (b, 1, 1), generator=generator).to(x.device)
    gb, gy, gx = torch.meshgrid(torch.arange(b, device=x.device), torch.arange(h, device=x.device),
                                torch.arange(w, device=x.device), indexing="ij")
    gy = (gy + dy + 1).clamp(0, h + 1)  # +1: index into the zero-padded image
    gx = (gx + dx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # (B, H + 2, W + 2, C)
    return padded[gb, gy, gx].permute(0, 3, 1, 2).contiguous()


@AUGMENTS.register("cutout")
def cutout(x: torch.Tensor, generator: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of `ratio` times the image size at a random place in each image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), generator=generator).to(x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), generator=generator).to(x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    oy, ox = ys - cy + ch // 2, xs - cx + cw // 2  # position inside the square, (B, H, W)
    inside = (oy >= 0) & (oy < ch) & (ox >= 0) & (ox < cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def policy(names: str) -> list:
    """The augmentation functions of a comma-separated policy string ('' = none)."""
    return [AUGMENTS.get_or_fail(n.strip(), "train.augment") for n in names.split(",")
            if n.strip()]


def apply(x: torch.Tensor, functions: list, generator: torch.Generator) -> torch.Tensor:
    for f in functions:
        x = f(x, generator)
    return x
