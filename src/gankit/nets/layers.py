"""Small building blocks shared by the network families."""

from __future__ import annotations

from torch import nn

from gankit.errors import GankitError, closest

ACTIVATIONS = {
    "relu": lambda: nn.ReLU(),
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": lambda: nn.ELU(),
    "silu": lambda: nn.SiLU(),
    "gelu": lambda: nn.GELU(),
    "tanh": lambda: nn.Tanh(),
}
OUTPUTS = {"identity": nn.Identity, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
NORMS = ("none", "batch", "layer")


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise GankitError(f"unknown activation {name!r}{closest(name, ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def output_activation(name: str) -> nn.Module:
    if name not in OUTPUTS:
        raise GankitError(f"unknown output activation {name!r}{closest(name, OUTPUTS)}")
    return OUTPUTS[name]()


def norm_1d(name: str, width: int) -> nn.Module:
    if name not in NORMS:
        raise GankitError(f"unknown norm {name!r}{closest(name, NORMS)}")
    if name == "none":
        return nn.Identity()
    return nn.BatchNorm1d(width) if name == "batch" else nn.LayerNorm(width)


def linear(n_in: int, n_out: int, spectral: bool) -> nn.Module:
    layer = nn.Linear(n_in, n_out)
    return nn.utils.parametrizations.spectral_norm(layer) if spectral else layer
