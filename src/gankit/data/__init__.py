"""Datasets by name; `build(kind, options)` returns a VectorData or an ImageData.

Both offer `batch(n, generator)` -> (x in model space, class input or None), `fake_labels`,
`net_shape` (the data's side of the networks' arguments), `to_data`, `reference` and `metrics`.
"""

from __future__ import annotations

from gankit.data.base import VectorData
from gankit.data.images import ImageData, array, fashion_mnist, folder, mnist, stacked_mnist
from gankit.data.toy import Gaussian1D, Points, Sequence, grid, mixture1d, ring
from gankit.registry import Registry

DATASETS = Registry("data kind")
DATASETS["gaussian1d"] = Gaussian1D
DATASETS["mixture1d"] = mixture1d
DATASETS["ring"] = ring
DATASETS["grid"] = grid
DATASETS["sequence"] = Sequence
DATASETS["points"] = Points
DATASETS["mnist"] = mnist
DATASETS["fashion-mnist"] = fashion_mnist
DATASETS["stacked-mnist"] = stacked_mnist
DATASETS["folder"] = folder
DATASETS["array"] = array
IMAGE_KINDS = ("mnist", "fashion-mnist", "stacked-mnist", "folder", "array")


def build(kind: str, options: dict) -> VectorData | ImageData:
    return DATASETS.get_or_fail(kind, "data.kind")(**options)


__all__ = ["DATASETS", "IMAGE_KINDS", "ImageData", "VectorData", "build"]
