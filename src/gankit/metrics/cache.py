"""Features of reference images cached on disk, so real-data statistics are extracted once.

The key hashes the images themselves (shape and bytes) with the extractor's key (its weights and
preprocessing), so a change of data, split, resolution, weights or preprocessing never reuses a
stale file. Files are safetensors (never pickles), written atomically, under $GANKIT_CACHE or
~/.cache/gankit/features.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from gankit.checkpoint import atomic_write


def cache_root() -> Path:
    return Path(os.environ.get("GANKIT_CACHE", Path.home() / ".cache" / "gankit")) / "features"


def cache_key(images: np.ndarray, extractor_key: str) -> str:
    h = hashlib.sha256(f"{extractor_key}|{images.dtype}|{images.shape}|".encode())
    h.update(np.ascontiguousarray(images).tobytes())
    return h.hexdigest()[:32]


def cached_features(images: np.ndarray, extractor, root: Path | None = None) -> np.ndarray:
    """extractor(images), read from the cache when this exact set was extracted before."""
    root = Path(root) if root is not None else cache_root()
    path = root / f"{extractor.name}-{cache_key(images, extractor.key)}.safetensors"
    if path.is_file():
        try:
            features = load_file(str(path))["features"]
            if len(features) == len(images):
                return features
        except (SafetensorError, KeyError, OSError):
            pass  # damaged cache file: extract again and overwrite it
    features = np.ascontiguousarray(extractor(images))
    root.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: save_file({"features": features}, str(tmp),
                                             metadata={"key": extractor.key}))
    return features
