"""Small image datasets written on the fly, so image tests need no download."""

import gzip
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    header = b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    path = Path(str(path) + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def fake_mnist(folder: Path, n: int = 40, split: str = "train", size: int = 28) -> Path:
    """An MNIST-format folder: digit k is a bright square whose size grows with k."""
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.arange(n) % 10
    images = np.zeros((n, size, size), np.uint8)
    for i, k in enumerate(labels):
        images[i, 2:4 + 2 * k, 2:4 + 2 * k] = 255
    prefix = "train" if split == "train" else "t10k"
    write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return folder
