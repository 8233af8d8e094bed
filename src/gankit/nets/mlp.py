"""Multi-layer perceptrons for vector data.

G: z (B, z_dim) -> x (B, dim).  D: x (B, dim) -> logits (B / pack,).
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.nets.layers import activation, linear, norm_1d, output_activation


def _trunk(n_in: int, width: int, depth: int, act: str, norm: str, spectral: bool) -> list:
    # Small layers cost their op count more than their FLOPs (G depth 16, width 64, batch 512 on
    # 2 threads: 12.6 -> 10.1 ms per forward + backward + Adam step without both of these):
    # a bias before batch norm is cancelled by it, and the activations may overwrite their input,
    # since neither Linear's nor a norm's backward pass needs its output.
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [linear(n_in if i == 0 else width, width, spectral, bias=norm != "batch"),
                   norm_1d(norm, width), activation(act, inplace=True)]
    return layers


def _check(width: int, depth: int) -> None:
    for key, value in (("width", width), ("depth", depth)):
        if value < 1:
            raise GankitError(f"{key}: must be >= 1, got {value}")


class MLPGenerator(nn.Module):
    """`depth` hidden layers of `width` units, then a linear map to the data and `out`."""

    def __init__(
        self,
        z_dim: int = 2,
        dim: int = 2,
        width: int = 128,
        depth: int = 3,
        activation: str = "relu",
        norm: str = "none",
        spectral_norm: bool = False,
        out: str = "identity",
    ):
        super().__init__()
        _check(width, depth)
        if z_dim < 1:
            raise GankitError(f"generator.z_dim must be >= 1, got {z_dim}")
        self.z_dim, self.dim = z_dim, dim
        layers = _trunk(z_dim, width, depth, activation, norm, spectral_norm)
        layers += [linear(width, dim, spectral_norm), output_activation(out)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, z_dim) -> (B, dim)
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """PacGAN packing: `pack` consecutive samples are concatenated into one input of D."""

    def __init__(
        self,
        dim: int = 2,
        width: int = 128,
        depth: int = 3,
        activation: str = "leaky_relu",
        norm: str = "none",
        spectral_norm: bool = False,
        pack: int = 1,
    ):
        super().__init__()
        _check(width, depth)
        if pack < 1:
            raise GankitError(f"discriminator.pack must be >= 1, got {pack}")
        self.dim, self.pack = dim, pack
        layers = _trunk(dim * pack, width, depth, activation, norm, spectral_norm)
        layers.append(linear(width, 1, spectral_norm))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, dim) -> (B // pack,) logits
        return self.net(x.reshape(x.shape[0] // self.pack, self.pack * self.dim)).squeeze(1)
