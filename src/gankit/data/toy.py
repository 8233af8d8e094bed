"""Toy worlds: a 1-D Gaussian, 1-D and 2-D mixtures, the sequence task, and the user's points.

Shapes, means and standard deviations of `ring` and `grid` are PacGAN's (Lin et al. 2018):
8 Gaussians on the unit circle with sigma 0.01, and 25 Gaussians on {-4,-2,0,2,4}^2 with sigma 0.05.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from gankit.data.base import VectorData
from gankit.errors import GankitError
from gankit.metrics.toy import (
    column_w1,
    mixture_metrics,
    sequence_metrics,
    sliced_w1,
    univariate_metrics,
)


def _normal(n: int, dim: int, g: torch.Generator) -> torch.Tensor:
    return torch.randn(n, dim, generator=g)


class Gaussian1D(VectorData):
    def __init__(self, mean: float = 4.0, std: float = 1.25):
        if not std > 0:
            raise GankitError(f"data.std must be > 0, got {std}")
        super().__init__(1, mean, std)
        self.mean, self.std = float(mean), float(std)

    def draw(self, n, generator):
        return self.mean + self.std * _normal(n, 1, generator)

    def metrics(self, samples):
        return univariate_metrics(samples, stats.norm(self.mean, self.std), self.std)


class Mixture(VectorData):
    """Isotropic Gaussians with `means` (k, dim), per-mode `stds` (k,) and `weights` (k,)."""

    default_eval_n = 2_500  # PacGAN's protocol

    def __init__(self, means, stds, weights=None):
        try:
            array = np.asarray(means, dtype=np.float64)
        except (ValueError, TypeError):
            raise GankitError(f"data.means must be a list of numbers or of equal-length points, "
                              f"got {means!r}") from None
        if array.size == 0:
            raise GankitError("data.means must hold at least one mode")
        means = array.reshape(len(array), -1)
        k, dim = means.shape
        try:
            stds = np.broadcast_to(np.asarray(stds, dtype=np.float64), (k,)).copy()
            weights = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, np.float64)
        except (ValueError, TypeError):
            raise GankitError(f"data.std and data.weights must be a number or {k} numbers, got "
                              f"{stds!r} and {weights!r}") from None
        if weights.shape != (k,) or not (np.isfinite(weights) & (weights > 0)).all():  # 0: no mode
            raise GankitError(f"data.weights must be {k} positive numbers (leave out a mode "
                              f"instead of giving it weight 0), got {weights}")
        if not (stds > 0).all():
            raise GankitError(f"data.std must be > 0, got {stds}")
        self.means, self.stds, self.weights = means, stds, weights / weights.sum()
        centred = np.sum((means - means.mean(0)) ** 2, 1)
        spread = float(np.sqrt(np.mean(centred) / dim + stds.mean() ** 2))
        # One common scale for every axis keeps the layout's shape in model space.
        super().__init__(dim, means.mean(0), spread)

    def draw(self, n, generator):
        idx = torch.multinomial(torch.as_tensor(self.weights), n, True, generator=generator)
        means = torch.as_tensor(self.means, dtype=torch.float32)[idx]
        stds = torch.as_tensor(self.stds, dtype=torch.float32)[idx, None]
        return means + stds * _normal(n, self.dim, generator)

    def metrics(self, samples):
        out = mixture_metrics(samples, self.means, self.stds, self.weights)
        if self.dim == 1:
            ref = self.reference(100_000, seed=1234)
            out |= univariate_metrics(samples, ref, float(ref.std()))
        return out


def ring(n_modes: int = 8, radius: float = 1.0, std: float = 0.01) -> Mixture:
    if n_modes < 1 or radius <= 0:
        raise GankitError(f"data.n_modes must be >= 1 and data.radius > 0, got {n_modes} and "
                          f"{radius}")
    angles = 2 * math.pi * np.arange(n_modes) / n_modes
    return Mixture(radius * np.stack([np.cos(angles), np.sin(angles)], 1), std)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> Mixture:
    if side < 1 or spacing <= 0:
        raise GankitError(f"data.side must be >= 1 and data.spacing > 0, got {side} and "
                          f"{spacing}")
    ticks = (np.arange(side) - (side - 1) / 2) * spacing
    return Mixture(np.array([(x, y) for x in ticks for y in ticks]), std)


def mixture1d(means: list[float] = (-3.0, 0.0, 3.0), std: float | list[float] = 0.5,
              weights: list[float] | None = None) -> Mixture:
    mixture = Mixture(means, std, weights)
    if mixture.dim != 1:
        raise GankitError(f"data.means of mixture1d must be numbers, got {means!r}")
    return mixture


class Sequence(VectorData):
    """[a, b, c, c+1, c+2] with a, b, c ~ U(low, high): G must learn an exact linear relation."""

    def __init__(self, low: float = 0.0, high: float = 10.0):
        if high <= low:
            raise GankitError(f"data.high must exceed data.low, got low={low}, high={high}")
        mid, std = (low + high) / 2, (high - low) / math.sqrt(12)
        super().__init__(5, [mid, mid, mid, mid + 1, mid + 2], std)
        self.low, self.high = float(low), float(high)

    def draw(self, n, generator):
        abc = self.low + (self.high - self.low) * torch.rand(n, 3, generator=generator)
        c = abc[:, 2:3]
        return torch.cat([abc, c + 1, c + 2], 1)

    def metrics(self, samples):
        return sequence_metrics(samples, self.low, self.high)


class Points(VectorData):
    """The user's own samples: a .npy array or a .csv of numbers, shape (N, dim) or (N,)."""

    def __init__(self, path: str = ""):
        x = load_points(path)
        self.path, self.points = path, torch.as_tensor(x)
        # Each column its own scale: columns in other units (age, income) would otherwise leave
        # the small ones nearly constant in model space, and G would not learn them.
        std = x.std(0)
        super().__init__(x.shape[1], x.mean(0), np.where(std > 0, std, 1.0))

    def draw(self, n, generator):
        idx = torch.randint(len(self.points), (n,), generator=generator)
        return self.points[idx]

    def metrics(self, samples):
        ref = self.points.numpy().astype(np.float64)
        samples = np.asarray(samples, np.float64)
        if self.dim == 1:
            return univariate_metrics(samples, ref, float(ref.std()) or 1.0)
        # sliced W1 in data units is about the widest columns; the worst column in its own
        # standard deviations names the one G has not learned
        columns = column_w1(samples, ref)
        return {"sliced_w1": sliced_w1(samples, ref), "worst_column_w1_std": float(columns.max()),
                "worst_column": int(columns.argmax())}

    def check_map(self, shift, scale, where):
        # runs saved before 2026-11-27 scaled every column by the mean of the columns' stds;
        # their G was trained in that space, so they go on with it
        legacy = torch.full((self.dim,), float(self.points.numpy().std(0).mean()) or 1.0)
        if torch.equal(shift, self.shift) and torch.equal(scale, legacy):
            self.scale = legacy
        super().check_map(shift, scale, where)

    def reference(self, n, seed=0):  # rows at random: a file may be sorted or grouped
        if n >= len(self.points):
            return self.points.numpy()
        idx = torch.randperm(len(self.points), generator=torch.Generator().manual_seed(seed))
        return self.points.numpy()[idx[:n].numpy()]

    def extent_sample(self):
        return self.points  # the user's own file: every row


def load_points(path: str) -> np.ndarray:
    """float32 (N, dim) from .npy (never unpickled) or .csv (an optional header line)."""
    p = Path(str(path)).expanduser()
    if not str(path):
        raise GankitError("data.path is required for the points world: a .csv or .npy file")
    if not p.is_file():
        raise GankitError(f"data.path: no such file {str(p)!r}")
    try:
        if p.suffix.lower() == ".npy":
            x = np.load(p, allow_pickle=False)
        elif p.suffix.lower() in (".csv", ".txt"):
            x = _load_csv(p)
        else:
            raise GankitError(f"data.path {str(p)!r}: expected a .csv or .npy file")
    except (ValueError, OSError) as e:
        raise GankitError(f"data.path {str(p)!r}: cannot read numbers ({e})") from None
    x = np.asarray(x)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise GankitError(f"data.path {str(p)!r}: expected numbers of shape (N, dim), got "
                          f"{x.dtype} {x.shape}")
    if len(x) < 2:
        raise GankitError(f"data.path {str(p)!r}: needs at least 2 points, has {len(x)}")
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).any(1).sum())
        raise GankitError(f"data.path {str(p)!r}: {bad} rows hold NaN or Inf; remove them")
    return x.astype(np.float32)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _load_csv(p: Path) -> np.ndarray:
    """Comma-separated numbers, one point per line; a first line without numbers is a header,
    and '#' starts a comment.

    Errors name the file's own line numbers, which numpy's loaders (counting data rows) do not.
    """
    rows, width, first = [], None, True
    # utf-8-sig: spreadsheets ("CSV UTF-8") start the file with a byte-order mark
    for i, line in enumerate(p.read_text(encoding="utf-8-sig").splitlines(), 1):
        line = line.split("#", 1)[0]  # comments, as np.savetxt writes its header and footer
        fields = [v.strip() for v in line.split(",")]
        if not line.strip():
            continue
        header, first = first and not any(_is_number(v) for v in fields), False
        if header:
            continue  # the first line with content holds names, no numbers: a header
        if not all(_is_number(v) for v in fields):
            bad = next(v for v in fields if not _is_number(v))
            raise GankitError(f"data.path {str(p)!r}: line {i}: {bad!r} is not a number "
                              "(expected comma-separated numbers, an optional header line)")
        if width is None:
            width = len(fields)
        elif len(fields) != width:
            raise GankitError(f"data.path {str(p)!r}: line {i} holds {len(fields)} values, the "
                              f"lines before it {width}")
        rows.append([float(v) for v in fields])
    if not rows:
        raise GankitError(f"data.path {str(p)!r}: holds no lines of numbers")
    return np.array(rows, np.float64)
