"""Small building blocks shared by the network families."""

from __future__ import annotations

from torch import nn

from gankit.errors import GankitError, closest

ACTIVATIONS = {  # inplace: overwrite the input, for inputs no backward pass needs back
    "relu": lambda inplace: nn.ReLU(inplace),
    "leaky_relu": lambda inplace: nn.LeakyReLU(0.2, inplace),
    "elu": lambda inplace: nn.ELU(inplace=inplace),
    "silu": lambda inplace: nn.SiLU(inplace),
    "gelu": lambda inplace: nn.GELU(),
    "tanh": lambda inplace: nn.Tanh(),
}
OUTPUTS = {"identity": nn.Identity, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
NORMS = ("none", "batch", "layer")


def activation(name: str, inplace: bool = False) -> nn.Module:
    if name not in ACTIVATIONS:
        raise GankitError(f"activation: unknown activation {name!r}{closest(name, ACTIVATIONS)}")
    return ACTIVATIONS[name](inplace)


def output_activation(name: str) -> nn.Module:
    if name not in OUTPUTS:
        raise GankitError(f"out: unknown output activation {name!r}{closest(name, OUTPUTS)}")
    return OUTPUTS[name]()


def norm_1d(name: str, width: int) -> nn.Module:
    if name not in NORMS:
        raise GankitError(f"norm: unknown norm {name!r}{closest(name, NORMS)}")
    if name == "none":
        return nn.Identity()
    return nn.BatchNorm1d(width) if name == "batch" else nn.LayerNorm(width)


def linear(n_in: int, n_out: int, spectral: bool, bias: bool = True) -> nn.Module:
    layer = nn.Linear(n_in, n_out, bias=bias)
    return nn.utils.parametrizations.spectral_norm(layer) if spectral else layer


def norm_2d(name: str, channels: int) -> nn.Module:
    """Batch norm, layer norm over (C, H, W) as one group, or nothing, for (B, C, H, W) maps."""
    if name not in NORMS:
        raise GankitError(f"norm: unknown norm {name!r}{closest(name, NORMS)}")
    if name == "none":
        return nn.Identity()
    return nn.BatchNorm2d(channels) if name == "batch" else nn.GroupNorm(1, channels)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialisation (Radford et al. 2016): weights N(0, 0.02), BN scales N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def spectral(module: nn.Module, on: bool) -> nn.Module:
    """Spectral norm (Miyato et al. 2018) on every conv, linear and embedding weight, if `on`."""
    if on:
        for m in list(module.modules()):
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
                nn.utils.parametrizations.spectral_norm(m)
    return module
