"""Datasets by name; `build(kind, options)` returns a VectorData or an ImageData.

Both offer `batch(n, generator)` -> (x in model space, class input or None), `fake_labels`,
`net_shape` (the data's side of the networks' arguments), `to_data`, `reference` and `metrics`.
"""

from __future__ import annotations

from gankit.data.base import VectorData
from gankit.data.images import ImageData, array, fashion_mnist, folder, mnist, stacked_mnist
from gankit.data.toy import Gaussian1D, Points, Sequence, grid, mixture1d, ring
from gankit.registry import Registry

_VECTORS = {"gaussian1d": Gaussian1D, "mixture1d": mixture1d, "ring": ring, "grid": grid,
            "sequence": Sequence, "points": Points}
_IMAGES = {"mnist": mnist, "fashion-mnist": fashion_mnist, "stacked-mnist": stacked_mnist,
           "folder": folder, "array": array}
DATASETS = Registry("data kind")
DATASETS.update(_VECTORS | _IMAGES)
IMAGE_KINDS = tuple(_IMAGES)  # the kinds whose data are images (DCGAN nets, DiffAugment)

def build(kind: str, options: dict) -> VectorData | ImageData:
    return DATASETS.get_or_fail(kind, "data.kind")(**options)


__all__ = ["DATASETS", "IMAGE_KINDS", "ImageData", "VectorData", "build"]
