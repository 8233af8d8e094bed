"""Image datasets held in memory as uint8 and converted to model space per batch.

Model space: float32 (B, C, R, R) in [-1, 1] (pixel / 127.5 - 1). Data units: uint8 (B, R, R, C).
Decoding happens once, when the dataset is built, so a 2-core machine spends its training time
training rather than decoding files.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from gankit.data import idx
from gankit.errors import GankitError

EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def pixels(x: torch.Tensor) -> torch.Tensor:
    """(B, C, R, R) model space in [-1, 1] -> (B, R, R, C) uint8 pixels."""
    return ((x.detach().float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8
                                                                      ).permute(0, 2, 3, 1)


class ImageData:
    """Square images (N, R, R, C) uint8 with optional labels.

    When `conditional`, the labels become the class input of both players (n_classes > 0);
    otherwise they are kept only for metrics. `skipped` names files that could not be read.
    """

    default_eval_n = 10_000

    def __init__(self, images: np.ndarray, labels: np.ndarray | None = None,
                 classes: list[str] | None = None, conditional: bool = False,
                 name: str = "images", skipped: list[str] | None = None):
        if images.ndim == 3:
            images = images[..., None]
        n, h, w, c = images.shape
        if h != w or c not in (1, 3):
            raise GankitError(f"{name}: images must be square with 1 or 3 channels, got "
                              f"(N, H, W, C) = {images.shape}")
        if conditional and labels is None:
            raise GankitError(f"{name}: conditional training needs class labels, and this data "
                              "has none (set data.conditional=false)")
        self.name, self.skipped = name, skipped or []
        self.images = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        self.labels = None if labels is None else torch.as_tensor(labels, dtype=torch.int64)
        self.classes = classes
        self.channels, self.resolution = c, h
        self.n_classes = len(classes) if conditional and classes else 0
        # the fixed map between pixels and model space, kept in checkpoints like vector data's
        self.shift = torch.full((1,), 127.5)
        self.scale = torch.full((1,), 127.5)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def net_shape(self) -> dict:
        return {"channels": self.channels, "resolution": self.resolution,
                "n_classes": self.n_classes}

    def pick(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(n, C, R, R) uint8 images drawn with replacement, and their labels (or None)."""
        i = torch.randint(len(self.images), (n,), generator=generator)
        return self.images[i], None if self.labels is None else self.labels[i]

    def batch(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A real batch in model space and its class input (None when unconditional)."""
        x, y = self.pick(n, generator)
        return self.to_model(x), y if self.n_classes else None

    def fake_labels(self, n: int, generator: torch.Generator) -> torch.Tensor | None:
        """Classes for generated samples, drawn as often as they occur in the data."""
        if not self.n_classes:
            return None
        return self.labels[torch.randint(len(self.labels), (n,), generator=generator)]

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        return x.float() / 127.5 - 1.0

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        return pixels(x)

    def reference(self, n: int, seed: int = 0) -> np.ndarray:
        """min(n, len) real images (., R, R, C) uint8, without repeats: all of them, in order,
        when n >= len (the test set of a FID protocol)."""
        if n >= len(self.images):
            x = self.images
        else:
            x = self.images[torch.randperm(len(self.images),
                                           generator=torch.Generator().manual_seed(seed))[:n]]
        return x.permute(0, 2, 3, 1).numpy()

    def fingerprint(self) -> str:
        """SHA-256 of the decoded images and labels (0.1 s for MNIST's 47 MB), so a resume knows
        the same images when their folder moved, and other images when it did not."""
        if getattr(self, "_fingerprint", None) is None:
            # the arrays' own buffers: .tobytes() would copy hundreds of MB for a large folder
            h = hashlib.sha256(np.ascontiguousarray(self.images.numpy()))
            if self.labels is not None:
                h.update(np.ascontiguousarray(self.labels.numpy()))
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def check_map(self, shift: torch.Tensor, scale: torch.Tensor, where: str) -> None:
        """Images always use the fixed map above; a vector run's map means the wrong data."""
        if shift.shape != self.shift.shape or not torch.equal(shift, self.shift):
            raise GankitError(f"{where}: the run was not trained on image data")

    def metrics(self, samples: np.ndarray, labels: np.ndarray | None = None) -> dict:
        """Scores of uint8 samples (N, R, R, C); `labels`: the classes a conditional G drew."""
        from gankit.metrics.images import image_metrics
        return image_metrics(self, samples, labels)


def _resize(images: np.ndarray, resolution: int) -> np.ndarray:
    """(N, H, W) uint8 -> (N, R, R) with bilinear resampling (no crop: the sources are square)."""
    if images.shape[1] == resolution:
        return images
    return np.stack([np.asarray(Image.fromarray(im).resize((resolution, resolution),
                                                           Image.Resampling.BILINEAR))
                     for im in images])


def _idx_dataset(name: str, path: str | None, split: str, conditional: bool, resolution: int,
                 download: bool) -> ImageData:
    _check_resolution(resolution)
    images, labels = idx.load(name, split, path, download)
    return ImageData(_resize(images, resolution), labels, idx.SOURCES[name]["classes"],
                     conditional, name)


def mnist(path: str | None = None, split: str = "train", conditional: bool = False,
          resolution: int = 28, download: bool = True) -> ImageData:
    """MNIST digits (LeCun et al. 1998), 60,000 train / 10,000 test, 28x28 grey."""
    return _idx_dataset("mnist", path, split, conditional, resolution, download)


def fashion_mnist(path: str | None = None, split: str = "train", conditional: bool = False,
                  resolution: int = 28, download: bool = True) -> ImageData:
    """Fashion-MNIST (Xiao et al. 2017): ten kinds of clothing, same format as MNIST."""
    return _idx_dataset("fashion-mnist", path, split, conditional, resolution, download)


class StackedMNIST(ImageData):
    """Three independent MNIST digits as the R, G, B channels: 1,000 modes (Metz et al. 2017).

    Triples are drawn afresh for every batch; the label of a triple is 100 r + 10 g + b.
    """

    default_eval_n = 26_000  # the protocol of VEEGAN and PacGAN

    def __init__(self, digits: ImageData):
        self.digits = digits
        super().__init__(np.zeros((1, digits.resolution, digits.resolution, 3), np.uint8),
                         np.zeros(1, np.int64), None, False, "stacked-mnist")

    def __len__(self) -> int:
        return len(self.digits) ** 3

    def fingerprint(self) -> str:
        return self.digits.fingerprint()  # triples are drawn from these digits

    def pick(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        i = torch.randint(len(self.digits), (3, n), generator=generator)
        x = torch.cat([self.digits.images[i[k]] for k in range(3)], dim=1)  # (n, 3, R, R)
        y = self.digits.labels[i]  # (3, n)
        return x, 100 * y[0] + 10 * y[1] + y[2]

    def reference(self, n: int, seed: int = 0) -> np.ndarray:
        """n random triples (n, R, R, 3) uint8."""
        x, _ = self.pick(n, torch.Generator().manual_seed(seed))
        return x.permute(0, 2, 3, 1).numpy()


def stacked_mnist(path: str | None = None, split: str = "train", resolution: int = 28,
                  download: bool = True) -> StackedMNIST:
    return StackedMNIST(mnist(path, split, False, resolution, download))


def _eight_bit(im: Image.Image) -> Image.Image:
    """16-bit grey (PNG) as 8-bit grey: Pillow's convert() would clip it to 255, not rescale."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        wide = np.asarray(im, dtype=np.float64)
        return Image.fromarray(np.clip(wide / 257, 0, 255).round().astype(np.uint8), "L")
    return im


def _fit(im: Image.Image, resolution: int) -> Image.Image:
    """Shorter side to `resolution`, then the centre crop: folders and arrays alike."""
    return ImageOps.fit(im, (resolution, resolution), Image.Resampling.LANCZOS)


def _check_resolution(resolution: int) -> None:
    # checked before any decoding, so a typo does not cost a pass over the whole folder
    if not 4 <= resolution <= 1024:
        raise GankitError(f"data.resolution must be in 4..1024, got {resolution}")


def _decode(path: Path, resolution: int, mode: str) -> np.ndarray | None:
    """Resize the shorter side to `resolution` and crop the centre; None if unreadable."""
    try:
        with Image.open(path) as im:
            im.draft(mode, (resolution, resolution))  # JPEG: decode at a reduced size, faster
            im = _eight_bit(ImageOps.exif_transpose(im)).convert(mode)
            return np.asarray(_fit(im, resolution), dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None  # truncated, corrupt or not an image: counted and named by the caller


def _image_files(root: Path) -> list[Path]:
    """Image files under `root`, through symlinked folders too (each real folder once), without
    hidden files and folders (".thumbnails", "._x.jpg"): sorted, as paths below `root`."""
    files, seen = [], set()
    for here, dirs, names in os.walk(root, followlinks=True):
        real = os.path.realpath(here)
        if real in seen:  # a link back up the tree: walk each folder once
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # the first name in order
        # reaches a folder linked twice, on every file system
        files += [Path(here) / n for n in names
                  if not n.startswith(".") and Path(n).suffix.lower() in EXTENSIONS]
    return sorted(p for p in files if p.is_file())


def folder(path: str = "", resolution: int = 64, channels: int = 3, conditional: bool = False
           ) -> ImageData:
    """Every .jpg/.png/.webp/.bmp under `path` (recursive); sub-folders name the classes."""
    if not path:
        raise GankitError("data.path is required for folder data: a folder of images, for "
                          "example data.path=photos/pets")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise GankitError(f"data.path={path!r} is not a folder")
    if channels not in (1, 3):
        raise GankitError(f"data.channels must be 1 or 3, got {channels}")
    _check_resolution(resolution)
    files = _image_files(root)
    if not files:
        raise GankitError(f"data.path={path!r} holds no {'/'.join(EXTENSIONS)} files "
                          "(searched recursively)")
    names = [p.relative_to(root).parts for p in files]
    if conditional and any(len(parts) == 1 for parts in names):
        loose = next(p for p, parts in zip(files, names) if len(parts) == 1)
        raise GankitError(f"data.conditional=true takes classes from sub-folders, but {loose} "
                          f"lies directly in {root}")
    mode = "RGB" if channels == 3 else "L"
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        decoded = list(pool.map(lambda p: _decode(p, resolution, mode), files))
    keep = [i for i, im in enumerate(decoded) if im is not None]
    skipped = [str(files[i]) for i, im in enumerate(decoded) if im is None]
    if not keep:
        raise GankitError(f"data.path={path!r}: none of its {len(files)} image files could be "
                          f"read (first: {files[0]})")
    classes = sorted({names[i][0] for i in keep}) if conditional else None
    lost = sorted({parts[0] for parts in names} - set(classes)) if conditional else []
    if lost:  # a class must not vanish because none of its files reads
        raise GankitError(f"data.path={path!r}: class folder {lost[0]!r} holds no readable "
                          f"image (its files are corrupt or not images); fix or remove it")
    labels = np.array([classes.index(names[i][0]) for i in keep]) if classes else None
    return ImageData(np.stack([decoded[i] for i in keep]), labels, classes, conditional,
                     str(root), skipped)


def array(path: str = "", conditional: bool = False, resolution: int = 0) -> ImageData:
    """Images from .npy (N, H, W[, C]) or .npz ('images' and optional 'labels'); never unpickled.

    uint8 pixels, or floats in [0, 1] (scaled to 0..255). Channels-first arrays (N, C, H, W) with
    C = 1 or 3 are recognised when the last axis cannot be channels. `resolution` > 0 resizes
    and centre-crops to R x R as folders are; 0 keeps the arrays' own size.
    """
    if not path:
        raise GankitError("data.path is required for array data: a .npy or .npz file of images")
    if resolution:
        _check_resolution(resolution)
    p = Path(path).expanduser()
    images, labels = _read_arrays(p)
    if images.ndim not in (3, 4):
        raise GankitError(f"{p}: expected images (N, H, W) or (N, H, W, C), got {images.shape}")
    if len(images) == 0 or images.size == 0:
        raise GankitError(f"{p}: holds no images (shape {images.shape})")
    if images.ndim == 4 and images.shape[1] in (1, 3) and images.shape[3] not in (1, 3):
        images = images.transpose(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.floating) or not (
                np.isfinite(images).all() and images.min() >= 0 and images.max() <= 1):
            raise GankitError(f"{p}: images must be uint8, or floats in [0, 1]; got "
                              f"{images.dtype} in [{images.min()}, {images.max()}]")
        images = (images * 255).round().astype(np.uint8)
    if resolution and (images.ndim == 3 or images.shape[3] in (1, 3)):  # else ImageData says no
        images = _fit_arrays(images, resolution)
    classes = None
    if labels is not None:
        if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
            raise GankitError(f"{p}: 'labels' must be {len(images)} integers, got "
                              f"{labels.dtype} {labels.shape}")
        values, labels = np.unique(labels, return_inverse=True)
        classes = [str(v) for v in values]
    return ImageData(images, labels, classes, conditional, str(p))


def _read_arrays(p: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(images, labels or None) of a .npy or .npz file, without pickle."""
    try:
        loaded = np.load(p, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            return loaded, None
        with loaded:
            keys = loaded.files
            if not keys:
                raise GankitError(f"{p}: the .npz archive is empty")
            key = next((k for k in ("images", "x") if k in keys), None)
            if key is None and len(keys) > 1:
                raise GankitError(f"{p}: name the images 'images' (and the classes 'labels'); "
                                  f"the archive holds {', '.join(keys)}")
            labels = next((loaded[k] for k in ("labels", "y") if k in keys), None)
            return loaded[key or keys[0]], labels
    except (OSError, ValueError, EOFError) as e:
        raise GankitError(f"{p}: cannot be read as a NumPy array without pickle ({e})") from None


def _fit_arrays(images: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 (N, H, W[, C]) -> (N, R, R[, C]): shorter side to R, centre crop (as folders)."""
    if images.shape[1] == images.shape[2] == resolution:
        return images
    grey = images.ndim == 4 and images.shape[3] == 1
    flat = images[..., 0] if grey else images
    out = np.stack([np.asarray(_fit(Image.fromarray(im), resolution)) for im in flat])
    return out[..., None] if grey else out
