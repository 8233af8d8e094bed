"""A small MNIST digit classifier, shipped with the package, for fast scores on digit data.

Trained by `benchmarks/mnist_classifier.py` (its test-set accuracy is recorded in BENCHMARKS.md
and in the weights' metadata). Used to label generated digits (class coverage, the "MNIST score")
and the three channels of Stacked MNIST.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file
from torch import nn

from gankit.checkpoint import file_digest
from gankit.errors import GankitError

WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "mnist_classifier.safetensors"


class DigitClassifier(nn.Module):
    """(B, 1, 28, 28) in [-1, 1] -> (B, 10) logits. Two conv blocks, ~96k parameters."""

    def __init__(self):
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                    nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
                    nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)]

        self.net = nn.Sequential(*block(1, 32), *block(32, 64), nn.Flatten(), nn.Dropout(0.3),
                                 nn.Linear(64 * 7 * 7, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3136): the flattened last conv block, the input of the classifier layer."""
        return self.net[:-2](x)


@lru_cache(maxsize=1)
def load_classifier(path: str = str(WEIGHTS)) -> DigitClassifier:
    """The shipped classifier in eval mode (safetensors, never unpickled)."""
    if not Path(path).is_file():
        raise GankitError(f"MNIST classifier weights not found at {path}; train them with "
                          "`python benchmarks/mnist_classifier.py`")
    model = DigitClassifier()
    model.load_state_dict(load_file(path))
    return model.eval()


@lru_cache(maxsize=1)
def _digest(path: str) -> str:
    return file_digest(Path(path))[:12]


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) or (N, H, W, 1) digits -> (N, 1, 28, 28) float in [-1, 1]."""
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[..., 0]
    if images.shape[1:] != (28, 28):
        images = np.stack([np.asarray(Image.fromarray(im).resize((28, 28),
                                                                 Image.Resampling.BILINEAR))
                           for im in images])
    return torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0)[:, None]


@torch.no_grad()
def classify(images: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Class probabilities (N, 10) of uint8 digit images (N, H, W[, 1])."""
    model = load_classifier()
    x = to_input(images)
    parts = [torch.softmax(model(x[i:i + batch]), 1) for i in range(0, len(x), batch)]
    return torch.cat(parts).numpy() if parts else np.zeros((0, 10), np.float32)


class DigitFeatures:
    """The classifier as a feature extractor for digit images: fast, but only for MNIST-like
    data, and its figures are not comparable with Inception-based ones."""

    name = "digits"
    dim = 64 * 7 * 7
    logits_dim = 10

    def __init__(self, batch: int = 1000):
        self.batch = batch

    @torch.no_grad()
    def _run(self, images: np.ndarray, head: bool) -> np.ndarray:
        model, x = load_classifier(), to_input(images)
        parts = [(model(x[i:i + self.batch]) if head else model.features(x[i:i + self.batch]))
                 .double() for i in range(0, len(x), self.batch)]
        width = self.logits_dim if head else self.dim
        return torch.cat(parts).numpy() if parts else np.zeros((0, width))

    @property
    def key(self) -> str:  # names the weights and the preprocessing, for feature caches
        return f"mnist-classifier-{_digest(str(WEIGHTS))}-grey28-[-1,1]"

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self._run(images, head=False)

    def logits(self, images: np.ndarray) -> np.ndarray:
        return self._run(images, head=True)
