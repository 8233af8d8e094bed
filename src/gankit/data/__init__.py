"""Datasets by name; `build(kind, options)` returns a VectorData in model space."""

from __future__ import annotations

from gankit.data.base import VectorData
from gankit.data.toy import Gaussian1D, Points, Sequence, grid, mixture1d, ring
from gankit.registry import Registry

DATASETS = Registry("data kind")
DATASETS["gaussian1d"] = Gaussian1D
DATASETS["mixture1d"] = mixture1d
DATASETS["ring"] = ring
DATASETS["grid"] = grid
DATASETS["sequence"] = Sequence
DATASETS["points"] = Points


def build(kind: str, options: dict) -> VectorData:
    return DATASETS.get_or_fail(kind, "data.kind")(**options)


__all__ = ["DATASETS", "VectorData", "build"]
