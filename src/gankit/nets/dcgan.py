"""DCGAN-style convolutional networks (Radford et al. 2016), resolution a parameter.

Both players walk a ladder of square resolutions base, 2 base, ..., R, where base (4 to 7) is R
halved while it stays even and >= 4: 8 -> 4, 28 -> 7, 32 -> 4, 64 -> 4. Channels double as the
resolution halves: `width` at the finest feature map, capped at `max_width`.

G: z (B, z_dim) [, y (B,)] -> images (B, channels, R, R) in (-1, 1).
D: images (B, channels, R, R) [, y (B,)] -> logits (B // pack,).
`hidden` > 0 adds a fully connected layer of that width between z and G's first feature map
and between D's last feature map and its logit: the InfoGAN-style nets that Lucic et al. (2018)
trained on MNIST and Fashion-MNIST (hidden 1024), for more capacity at small resolutions. A
projection D projects the pooled conv features, not the hidden layer's, on the class embedding.
Conditional when n_classes > 0: G concatenates a class embedding to z; D either projects its
pooled features on a class embedding (Miyato & Koyama 2018) or sees the one-hot class as extra
input channels (Mirza & Osindero 2014).
"""

from __future__ import annotations

import torch
from torch import nn

from gankit.errors import GankitError, closest
from gankit.nets.layers import dcgan_init, norm_1d, norm_2d, spectral

CONDITIONING = ("projection", "concat")
MINIBATCH_GROUP = 4  # samples per minibatch-std group (Karras et al. 2018)


def ladder(resolution: int) -> tuple[int, int]:
    """(base, n): resolution = base * 2**n with 4 <= base <= 7 and n >= 1."""
    base, n = resolution, 0
    while base % 2 == 0 and base // 2 >= 4:
        base, n = base // 2, n + 1
    if n < 1 or base > 7:
        raise GankitError(f"resolution {resolution} is not 4 to 7 times a power of two (valid: "
                          "8, 16, 28, 32, 64, 128, ...)")
    return base, n


def _channels(width: int, max_width: int, n: int) -> list[int]:
    """Feature channels at ladder levels 0 (base) .. n - 1 (the finest before the image)."""
    if width < 1 or max_width < width:
        raise GankitError(f"need 1 <= width <= max_width, got width={width}, max_width={max_width}")
    return [min(width * 2 ** (n - 1 - i), max_width) for i in range(n)]


def _check_classes(n_classes: int, embed_dim: int) -> None:
    if n_classes < 0 or (n_classes and embed_dim < 1):
        raise GankitError(f"need n_classes >= 0 and embed_dim >= 1, got {n_classes}, {embed_dim}")


class DCGANGenerator(nn.Module):
    def __init__(
        self,
        z_dim: int = 100,
        channels: int = 1,
        resolution: int = 28,
        width: int = 64,
        max_width: int = 512,
        norm: str = "batch",
        spectral_norm: bool = False,
        n_classes: int = 0,
        embed_dim: int = 16,
        hidden: int = 0,
    ):
        super().__init__()
        if z_dim < 1:
            raise GankitError(f"generator.z_dim must be >= 1, got {z_dim}")
        _check_classes(n_classes, embed_dim)
        _check_hidden(hidden, "generator")
        self.z_dim, self.n_classes, self.resolution = z_dim, n_classes, resolution
        self.base, n = ladder(resolution)
        ch = _channels(width, max_width, n)
        self.embed = nn.Embedding(n_classes, embed_dim) if n_classes else None
        n_in = z_dim + (embed_dim if n_classes else 0)
        bias = norm != "batch"  # batch norm cancels a per-channel bias; layer norm does not
        # (B, n_in) -> (B, hidden); absent when hidden = 0, so older checkpoints still load
        self.hidden = (nn.Sequential(nn.Linear(n_in, hidden, bias=bias), norm_1d(norm, hidden),
                                     nn.ReLU()) if hidden else None)
        self.project = nn.Linear(hidden or n_in, ch[0] * self.base**2, bias=bias)
        layers: list[nn.Module] = [nn.Unflatten(1, (ch[0], self.base, self.base)),
                                   norm_2d(norm, ch[0]), nn.ReLU()]
        for c_in, c_out in zip(ch, ch[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias), norm_2d(norm, c_out),
                       nn.ReLU()]
        layers += [nn.ConvTranspose2d(ch[-1], channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)
        spectral(self, spectral_norm)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if (y is None) != (self.embed is None):
            raise GankitError("a conditional generator needs class labels y, an unconditional "
                              "one takes none")
        if self.embed is not None:
            z = torch.cat([z, self.embed(y)], dim=1)  # (B, z_dim + embed_dim)
        if self.hidden is not None:
            z = self.hidden(z)
        return self.net(self.project(z))  # (B, channels, R, R)


class DCGANDiscriminator(nn.Module):
    def __init__(
        self,
        channels: int = 1,
        resolution: int = 28,
        width: int = 64,
        max_width: int = 512,
        norm: str = "batch",
        spectral_norm: bool = False,
        minibatch_std: bool = False,
        pack: int = 1,
        n_classes: int = 0,
        conditioning: str = "projection",
        hidden: int = 0,
    ):
        super().__init__()
        if pack < 1:
            raise GankitError(f"discriminator.pack must be >= 1, got {pack}")
        if n_classes and pack > 1:
            raise GankitError("discriminator.pack > 1 packs samples of different classes; use "
                              "pack = 1 with conditional data")
        if conditioning not in CONDITIONING:
            raise GankitError(f"unknown discriminator.conditioning {conditioning!r}"
                              f"{closest(conditioning, CONDITIONING)}")
        _check_classes(n_classes, 1)
        _check_hidden(hidden, "discriminator")
        self.pack, self.n_classes, self.minibatch_std = pack, n_classes, minibatch_std
        self.concat = n_classes > 0 and conditioning == "concat"
        base, n = ladder(resolution)
        ch = _channels(width, max_width, n)
        c_in = channels * pack + (n_classes if self.concat else 0)
        # no normalisation on D's first layer (DCGAN)
        layers: list[nn.Module] = [nn.Conv2d(c_in, ch[-1], 4, 2, 1), nn.LeakyReLU(0.2)]
        bias = norm != "batch"  # as in G
        for c_in, c_out in zip(ch[:0:-1], ch[-2::-1]):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=bias), norm_2d(norm, c_out),
                       nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)  # -> (B', ch[0], base, base)
        n_feat = (ch[0] + minibatch_std) * base**2
        if hidden:  # (B', n_feat) -> (B', hidden) -> (B', 1)
            self.out = nn.Sequential(nn.Linear(n_feat, hidden, bias=bias),
                                     norm_1d(norm, hidden), nn.LeakyReLU(0.2),
                                     nn.Linear(hidden, 1))
        else:
            self.out = nn.Linear(n_feat, 1)
        self.embed = (nn.Embedding(n_classes, ch[0])
                      if n_classes and conditioning == "projection" else None)
        dcgan_init(self)
        spectral(self, spectral_norm)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if (y is None) != (self.n_classes == 0):
            raise GankitError("a conditional discriminator needs class labels y, an "
                              "unconditional one takes none")
        b, c, h, w = x.shape
        x = x.reshape(b // self.pack, c * self.pack, h, w)  # PacGAN: packs along channels
        if self.concat:
            onehot = nn.functional.one_hot(y, self.n_classes).to(x.dtype)
            x = torch.cat([x, onehot[:, :, None, None].expand(-1, -1, h, w)], dim=1)
        feat = self.features(x)
        if self.minibatch_std:
            feat = torch.cat([feat, _minibatch_std(feat)], dim=1)
        logits = self.out(feat.flatten(1)).squeeze(1)
        if self.embed is not None:  # projection: + <embed(y), sum-pooled features>
            logits = logits + (self.embed(y) * feat[:, : self.embed.embedding_dim].sum((2, 3))
                               ).sum(1)
        return logits


def _check_hidden(hidden: int, role: str) -> None:
    if hidden < 0:
        raise GankitError(f"{role}.hidden must be >= 0 (0: no fully connected layer), "
                          f"got {hidden}")


def _minibatch_std(feat: torch.Tensor, group: int = MINIBATCH_GROUP) -> torch.Tensor:
    """Karras et al. 2018: per group of samples, the mean feature std as one extra channel."""
    b = feat.shape[0]
    g = max(d for d in range(1, min(group, b) + 1) if b % d == 0)
    if g == 1 and b > 1:  # no divisor in 2..group (b = 5, 7, 25, ...): the batch is one group
        g = b
    grouped = feat.reshape(g, b // g, *feat.shape[1:])  # sample i is in group i % (b // g)
    std = (grouped.var(0, unbiased=False) + 1e-8).sqrt().mean((1, 2, 3))  # (b // g,)
    return std.repeat(g)[:, None, None, None].expand(-1, 1, *feat.shape[2:])
