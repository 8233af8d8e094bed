"""Discriminator rejection sampling (DRS; Azadi et al. 2019): D's knowledge used when sampling.

A D trained with the logistic loss approaches D*(x) = p_data(x) / (p_data(x) + p_G(x)), so its
logit estimates log(p_data(x) / p_G(x)). Rejection sampling with G as the proposal keeps a sample
with probability p_data / (M p_G) = exp(logit - log M), and so draws from p_data as far as the
estimate holds: samples G puts where D finds no data (the "bridges" a continuous G draws between
modes, malformed images) are dropped, and over-drawn modes are thinned.

Choices, against the paper:
- log M is the `quantile` of D's logits over `burn_in` proposals; 1.0 takes their maximum (the
  paper's D_M). A lower quantile keeps every sample above it, trading exactness for fewer draws
  (the role of the paper's shift gamma). M is fixed after the burn-in, so draws are reproducible.
- D is used as trained (the paper also fine-tunes it on the fixed G; on the grid this did not
  change the result: 95.0-95.2 % high quality either way, seed 1).
- least_squares D (targets 0 and 1) estimates D* itself: log ratio = log D - log(1 - D).
  One-sided label smoothing (target t < 1) shrinks D* to t p_data / (p_data + p_G), so the
  estimate is then approximate. Hinge and Wasserstein critics estimate no ratio: refused.
- A packed D (PacGAN) scores m samples at once; a pack is kept or dropped whole: at the optimum
  its logit is the sum of its samples' log ratios, so kept packs are draws from p_data^m.
- Every requested slot (with its class, for a conditional run) is drawn again until one is kept,
  so a conditional sample keeps the classes asked for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.nets.dcgan import MINIBATCH_GROUP
from gankit.sampling import decode, draw_batch, generate, latent

METHODS = ("none", "drs")  # sample.rejection
LOSSES = ("minimax", "nonsaturating", "least_squares")  # D estimates the density ratio
BURN_IN = 10_000
MAX_PROPOSALS = 100  # per requested sample, before giving up with an error


@dataclass
class Drawn:
    x: torch.Tensor  # (n, ...) kept samples in model space, on the CPU
    proposals: int  # samples G drew for them (burn-in not counted)
    log_m: float | None  # the log ratio above which every sample is kept; None: no rejection
    kept: int = -1  # samples kept (whole packs: may exceed n, which x is cut to); -1: len(x)

    @property
    def accept_rate(self) -> float:
        kept = len(self.x) if self.kept < 0 else self.kept
        return kept / self.proposals if self.proposals else 1.0


def check_loss(loss: str, where: str = "sample.rejection='drs'") -> None:
    if loss not in LOSSES:
        raise GankitError(f"{where} reads D's output as a density ratio, which a D trained with "
                          f"loss {loss!r} does not estimate; it needs loss.name "
                          f"{', '.join(LOSSES)} (or sample.rejection=none: G's samples as they "
                          "come)")


def log_ratio(out: torch.Tensor, loss: str) -> torch.Tensor:
    """D's raw output (B,) -> its estimate of log(p_data / p_G)."""
    check_loss(loss)
    if loss == "least_squares":  # the output is D* itself
        p = out.clamp(1e-6, 1 - 1e-6)
        return torch.log(p) - torch.log1p(-p)
    return out


@torch.no_grad()
def _propose(G: nn.Module, D: nn.Module, k: int, labels: torch.Tensor | None, loss: str,
             g: torch.Generator, batch: int, keep: bool = True):
    """k fresh samples of G (model space, CPU; None unless `keep`) and D's log ratio per pack
    (k // pack,), a batch at a time, so a burn-in of large images holds no more than a batch.

    A D with the minibatch standard deviation scores each sample against its group of
    MINIBATCH_GROUP (packs): its batches are whole groups, and a short last batch (the few
    slots still pending late in DRS) is filled up to whole groups with extra samples of G,
    scored and dropped, so that no sample is scored in a smaller group than D was trained with
    (alone, its group's std would read 0)."""
    z = latent(k, G.z_dim, g)
    device = next(D.parameters()).device
    pack = getattr(D, "pack", 1)
    grouped = bool(getattr(D, "minibatch_std", False))
    unit = pack * (MINIBATCH_GROUP if grouped else 1)
    step = max(unit, batch // unit * unit)
    xs, scores = [], []
    for i in range(0, k, step):
        zi = z[i:i + step]
        yi = None if labels is None else labels[i:i + step]
        n = len(zi)  # a whole number of packs
        whole = -(-n // unit) * unit
        if whole > n:
            zi = torch.cat([zi, latent(whole - n, G.z_dim, g)])
            yi = None if yi is None else yi[torch.arange(whole) % n]
        x = decode(G, zi, yi, batch)
        out = D(x.to(device)) if yi is None else D(x.to(device), yi.to(device))
        scores.append(log_ratio(out.float(), loss)[:n // pack].cpu())
        if keep:
            xs.append(x[:n])
    return (torch.cat(xs) if keep else None), torch.cat(scores)


def drs(G: nn.Module, D: nn.Module, n: int, seed: int, loss: str,
        labels: torch.Tensor | None = None, quantile: float = 1.0, burn_in: int = BURN_IN,
        batch: int | None = None) -> Drawn:
    """n samples of G kept by DRS, in model space on the CPU; G and D run in eval mode.

    A conditional G draws `labels` (n,), by default the classes in turn, as `generate` does.
    """
    if not 0 < quantile <= 1:
        raise GankitError(f"the DRS quantile must be in (0, 1], got {quantile}")
    if n < 1:
        raise GankitError(f"DRS draws at least 1 sample, got n={n}")
    check_loss(loss)
    batch = batch or draw_batch(G)
    pack = getattr(D, "pack", 1)
    n_classes = getattr(G, "n_classes", 0)
    if n_classes and labels is None:
        labels = torch.arange(n) % n_classes
    g = torch.Generator().manual_seed(seed)
    was = G.training, D.training
    G.eval()
    D.eval()
    try:
        k = max(pack, math.ceil(burn_in / pack) * pack)
        warm_labels = torch.arange(k) % n_classes if n_classes else None
        _, warm = _propose(G, D, k, warm_labels, loss, g, batch, keep=False)
        finite = warm[torch.isfinite(warm)]
        if not len(finite):
            raise GankitError("D's outputs on G's samples are all NaN or infinite: the run has "
                              "diverged, and DRS has nothing to weigh samples by")
        log_m = torch.quantile(finite.double(), quantile).item()
        groups = math.ceil(n / pack)
        # labels per slot, padded to whole packs (a conditional D takes no packs: pack = 1)
        slots = None if labels is None else labels[torch.arange(groups * pack) % n]
        kept: torch.Tensor | None = None
        pending = torch.arange(groups)
        proposals = 0
        while len(pending):
            if proposals > MAX_PROPOSALS * n:
                raise GankitError(
                    f"DRS kept {groups * pack - len(pending) * pack} of {proposals} samples "
                    f"(log M = {log_m:.3g}); lower the quantile (sample.quantile, --quantile) "
                    "so more are kept, or sample without rejection")
            idx = (pending[:, None] * pack + torch.arange(pack)).flatten()
            x, score = _propose(G, D, len(idx), None if slots is None else slots[idx], loss,
                                g, batch)
            proposals += len(idx)
            # keep with probability min(1, exp(score - log M)); NaN scores are never kept
            keep = torch.rand(len(pending), generator=g) < torch.exp(
                (score.double() - log_m).clamp(max=0.0))
            if kept is None:
                kept = torch.empty(groups * pack, *x.shape[1:], dtype=x.dtype)
            rows = (pending[keep][:, None] * pack + torch.arange(pack)).flatten()
            kept[rows] = x.reshape(len(pending), pack, *x.shape[1:])[keep].flatten(0, 1)
            pending = pending[~keep]
    finally:
        G.train(was[0])
        D.train(was[1])
    return Drawn(kept[:n], proposals, log_m, groups * pack)


@dataclass(frozen=True)
class Sampler:
    """draw(n, seed, labels=None) -> Drawn, as a run's [sample] config says: G's samples as they
    come (`rejection="none"`) or those DRS keeps (`"drs"`, weighed by D)."""

    G: nn.Module
    D: nn.Module | None
    loss: str
    rejection: str = "none"
    quantile: float = 1.0

    def __post_init__(self):
        if self.rejection not in METHODS or (self.rejection == "drs" and self.D is None):
            raise GankitError(f"unknown rejection {self.rejection!r} (valid: "
                              f"{', '.join(METHODS)}; drs with a D)")
        if self.rejection == "drs":
            check_loss(self.loss)

    def __call__(self, n: int, seed: int, labels: torch.Tensor | None = None) -> Drawn:
        if self.rejection == "none":
            return Drawn(generate(self.G, n, seed, labels=labels), n, None)
        return drs(self.G, self.D, n, seed, self.loss, labels, self.quantile)


__all__ = ["BURN_IN", "LOSSES", "METHODS", "Drawn", "Sampler", "check_loss", "drs", "log_ratio"]
