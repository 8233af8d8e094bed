"""Pictures of a toy world: real vs generated samples, with what D thinks of each place.

2-D: points over the discriminator's heat map (GAN Lab style). 1-D: histograms with D(x) over them.
More dimensions: one histogram per coordinate (the first 8). D is evaluated in eval mode, so
drawing a picture never changes the training state (spectral norm's power iteration runs only in
train mode).
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from gankit.losses import LOSSES
from gankit.sampling import generate

REAL, FAKE = "#1f77b4", "#ff7f0e"


@torch.no_grad()
def d_surface(D, points_model: torch.Tensor, prob: bool) -> np.ndarray:
    """D at each point (N, dim) -> (N,); with packing, each point fills the whole pack."""
    was = D.training
    D.eval()
    try:
        x = points_model.to(next(D.parameters()).device).repeat_interleave(D.pack, 0)
        out = torch.cat([D(c) for c in x.split(40_000 * D.pack)]).cpu()
    finally:
        D.train(was)
    return (torch.sigmoid(out) if prob else out).numpy()


def world_figure(state, data, cfg, n: int = 2000, seed: int = 7) -> Figure:
    prob = LOSSES[cfg.loss.name].prob
    fake = data.to_data(generate(state.G_eval, n, seed)).numpy()
    # another seed: with z_dim = 1, equal seeds give the real and the generated 1-D samples the
    # same normal draws, and their histograms would match spike for spike
    real = data.reference(n, seed=seed + 1)
    title = f"step {state.step} — {cfg.data.kind}, loss {cfg.loss.name}"
    label = "D(x)" if prob else "critic score"
    if data.dim == 1:
        return _figure_1d(state, data, real, fake, prob, label, title)
    if data.dim == 2:
        return _figure_2d(state, data, real, fake, prob, label, title)
    return _figure_nd(real, fake, title)


def _figure_1d(state, data, real, fake, prob, label, title) -> Figure:
    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    lo, hi = np.percentile(np.concatenate([real, fake]), [0.5, 99.5])
    pad = 0.1 * (hi - lo + 1e-9)
    bins = np.linspace(lo - pad, hi + pad, 80)
    ax.hist(real.ravel(), bins, density=True, alpha=0.5, color=REAL, label="real")
    ax.hist(fake.ravel(), bins, density=True, alpha=0.5, color=FAKE, label="generated")
    xs = torch.linspace(bins[0], bins[-1], 400)[:, None]
    d = d_surface(state.D, data.to_model(xs), prob)
    ax2 = ax.twinx()
    ax2.plot(xs.numpy().ravel(), d, color="k", lw=1.5, label=label)
    ax2.set_ylabel(label)
    if prob:
        ax2.set_ylim(0, 1)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.legend(loc="upper left")
    ax2.legend(loc="upper right")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _nonzero(v: np.ndarray) -> np.ndarray:
    """Per-axis scales (2,); a zero one (a constant column) borrows a tenth of the other's, so
    the generated samples off that constant stay in view."""
    return np.where(v > 0, v, 0.1 * v.max() if v.max() > 0 else 1.0)


def _figure_2d(state, data, real, fake, prob, label, title) -> Figure:
    fig = Figure(figsize=(6, 5.2), dpi=100)
    ax = fig.add_subplot()
    finite = np.isfinite(fake).all(1)  # a diverging G's NaN samples are counted, not drawn
    if not finite.all():
        title = f"{title}\n{(~finite).sum()} of {len(fake)} generated samples are NaN/Inf"
        fake = fake[finite]
    # each axis its own: columns may be in other units
    std = _nonzero(real.std(0))
    both = np.concatenate([real, np.clip(fake, real.min(0) - 3 * std, real.max(0) + 3 * std)])
    lo, hi = both.min(0), both.max(0)
    pad = 0.1 * _nonzero(hi - lo)
    gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 160)
    gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], 160)
    mesh = np.stack(np.meshgrid(gx, gy), -1).reshape(-1, 2).astype(np.float32)
    d = d_surface(state.D, data.to_model(torch.from_numpy(mesh)), prob)
    kwargs = {"vmin": 0, "vmax": 1} if prob else {}
    im = ax.pcolormesh(gx, gy, d.reshape(len(gy), len(gx)), cmap="RdBu", shading="auto",
                       alpha=0.8, **kwargs)
    fig.colorbar(im, ax=ax, label=label)
    ax.scatter(real[:, 0], real[:, 1], s=3, c=REAL, label="real", edgecolors="none")
    ax.scatter(fake[:, 0], fake[:, 1], s=3, c=FAKE, label="generated", edgecolors="none")
    ax.set_xlim(gx[0], gx[-1])
    ax.set_ylim(gy[0], gy[-1])
    spans = real.max(0) - real.min(0)  # the data's units decide, not a wayward G's samples
    if spans.max() < 3 * spans.min():  # true shapes (a ring is round); not age against income
        ax.set_aspect("equal")
    ax.legend(loc="upper right", markerscale=4)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _figure_nd(real, fake, title, most: int = 8) -> Figure:
    dim = min(real.shape[1], most)  # hundreds of histograms would be neither seen nor cheap
    if real.shape[1] > most:
        title = f"{title} (the first {most} of {real.shape[1]} coordinates)"
    fig = Figure(figsize=(2.4 * dim, 2.6), dpi=100)
    for i in range(dim):
        ax = fig.add_subplot(1, dim, i + 1)
        lo, hi = np.percentile(np.concatenate([real[:, i], fake[:, i]]), [0.5, 99.5])
        bins = np.linspace(lo, hi + 1e-9, 50)
        ax.hist(real[:, i], bins, density=True, alpha=0.5, color=REAL, label="real")
        ax.hist(fake[:, i], bins, density=True, alpha=0.5, color=FAKE, label="generated")
        ax.set_title(f"x{i + 1}", fontsize=9)
        ax.set_yticks([])
    fig.axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
