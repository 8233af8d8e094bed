"""Pictures of image GANs: sample grids from fixed noise, and an animation across training.

Grids map model space with the fixed range (-1, 1) -> 0..255 (never each grid's own min/max), so
brightness means the same in every snapshot.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gankit.data.images import pixels
from gankit.sampling import generate

FIXED_NOISE_SEED = 12345  # the same z for every snapshot of a run, apart from training's RNG


def grid(images: np.ndarray, ncol: int | None = None, pad: int = 2) -> Image.Image:
    """(N, R, R, C) uint8 -> one image of ncol columns with `pad` pixels of black between."""
    n, r, _, c = images.shape
    ncol = ncol or math.ceil(math.sqrt(n))
    nrow = math.ceil(n / ncol)
    out = np.zeros((pad + nrow * (r + pad), pad + ncol * (r + pad), c), np.uint8)
    for i, im in enumerate(images):
        y, x = pad + (i // ncol) * (r + pad), pad + (i % ncol) * (r + pad)
        out[y:y + r, x:x + r] = im
    return Image.fromarray(out[..., 0] if c == 1 else out)


MAX_ROWS = 40  # classes drawn in snapshots and walks; `--class K` reaches any class


def snapshot_labels(n_classes: int, per_class: int = 10) -> torch.Tensor | None:
    """Rows of one class each for a conditional snapshot: every class, up to MAX_ROWS."""
    if not n_classes:
        return None
    return torch.arange(min(n_classes, MAX_ROWS)).repeat_interleave(per_class)


def sample_grid(G, n_classes: int) -> Image.Image:
    """8 x 8 samples, or for conditional G one row of 10 per class, from fixed noise."""
    labels = snapshot_labels(n_classes)
    n = 64 if labels is None else len(labels)
    x = pixels(generate(G, n, FIXED_NOISE_SEED, labels=labels)).numpy()
    return grid(x, 8 if labels is None else 10)


def save_animation(frames: list[Path], out: Path, ms_per_frame: int = 200) -> None:
    """An animated GIF of the snapshots; the last frame stays up longer (durations in ms)."""
    images = [Image.open(f).convert("RGB") for f in frames]
    durations = [ms_per_frame] * (len(images) - 1) + [2000]
    images[0].save(out, save_all=True, append_images=images[1:], duration=durations, loop=0)


def save_image_pictures(state, data, run_dir: Path, final: bool) -> None:
    """samples/step_NNNNNNNN.png (+ samples.png, the latest); at the end, samples/training.gif."""
    folder = Path(run_dir) / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    picture = sample_grid(state.G_eval, data.n_classes)
    picture.save(folder / f"step_{state.step:08d}.png")
    picture.save(Path(run_dir) / "samples.png")
    if final:
        save_animation(sorted(folder.glob("step_*.png")), folder / "training.gif")


def save_images(images: np.ndarray, out: Path) -> None:
    """uint8 (N, R, R, C) as one grid picture (out.png) or one PNG per image in folder `out`."""
    out = Path(out)
    if out.suffix.lower() == ".png":
        grid(images).save(out)
        return
    out.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        Image.fromarray(im[..., 0] if im.shape[-1] == 1 else im).save(out / f"{i:06d}.png")


def save_walk(frames: list[np.ndarray], ncol: int, out: Path, ms_per_frame: int = 80) -> int:
    """Frames, each uint8 (M, R, R, C) laid out `ncol` wide, as a looping GIF; returns the
    frames the GIF holds (Pillow stores identical frames in a row once, for their total time)."""
    images = [grid(f, ncol).convert("RGB") for f in frames]
    images[0].save(out, save_all=True, append_images=images[1:], duration=ms_per_frame, loop=0)
    with Image.open(out) as gif:
        return gif.n_frames


def save_arithmetic(pool_images: np.ndarray, result, out: Path, per_row: int = 8) -> None:
    """Rows: samples of operand A, B, C (whose latents were averaged), then the results."""
    rows = [pool_images[idx[:per_row]] for idx in result.operands]
    rows.append(result.images[:per_row])
    r, c = pool_images.shape[1], pool_images.shape[3]
    padded = [np.concatenate([row, np.zeros((per_row - len(row), r, r, c), np.uint8)])
              for row in rows]
    grid(np.concatenate(padded), per_row).save(out)
