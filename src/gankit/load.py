"""Rebuild a trained generator (and discriminator) from a run folder, with no script."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gankit import checkpoint
from gankit import device as device_lib
from gankit.config import Config, from_dict
from gankit.config_checks import check_bn_stats
from gankit.data import VectorData
from gankit.data import build as build_data
from gankit.data.images import pixels
from gankit.ema import standing_stats
from gankit.errors import GankitError, closest
from gankit.state_io import check_contents
from gankit.train import build_networks


@dataclass
class LoadedRun:
    cfg: Config
    G: nn.Module  # the EMA generator when the run kept one (and load_run was not told ema=False)
    D: nn.Module
    step: int
    shift: torch.Tensor  # (dim,): data = model * scale + shift
    scale: torch.Tensor
    net_shape: dict  # {"dim": d} for vectors, {"channels", "resolution", "n_classes"} for images
    classes: list[str] | None = None  # class names of a conditional run
    generator: str = "trained"  # which G was loaded: "ema" or "trained"
    bn_stats: str = "saved"  # G's batch-norm statistics: as saved, or "standing" (re-estimated)

    @property
    def is_image(self) -> bool:
        return "resolution" in self.net_shape

    @property
    def data(self) -> VectorData:
        """The run's data, rebuilt from its config (a `points` run needs its file, unchanged)."""
        data = build_data(self.cfg.data.kind, self.cfg.data.options)
        data.check_map(self.shift, self.scale, f"data.path {self.cfg.data.options.get('path')!r}")
        return data

    def class_index(self, name: str) -> int:
        """A class of a conditional run by name or index ("sandal", "5")."""
        if not self.classes:
            raise GankitError("this run is not conditional: it takes no class")
        from gankit.latent import class_index

        index = class_index(name, self.classes)
        if index is None:
            named = any(c.isdigit() for c in self.classes)
            raise GankitError(f"unknown class {name!r}{closest(name, self.classes)}"
                              + ("" if named else f" (or an index 0..{len(self.classes) - 1})"))
        return index

    def sampler(self, rejection: str | None = None, quantile: float | None = None):
        """A gankit.rejection.Sampler, draw(n, seed, labels=None) -> Drawn, as the run's [sample]
        config says or as `rejection` / `quantile` override it. DRS weighs the loaded G's samples
        (the weight average where the run kept one) by the D trained beside the trained G."""
        from gankit.rejection import Sampler, check_loss

        rejection = self.cfg.sample.rejection if rejection is None else rejection
        if quantile is not None and rejection != "drs":
            raise GankitError(f"--quantile {quantile} sets how DRS keeps samples; this run is "
                              "sampled without rejection: add --rejection drs")
        quantile = self.cfg.sample.quantile if quantile is None else quantile
        if rejection == "drs":
            check_loss(self.cfg.loss.name, "--rejection drs")
        return Sampler(self.G, self.D, self.cfg.loss.name, rejection, quantile)

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        """Model space -> data units (images: uint8 (N, R, R, C)), with the saved map."""
        if self.is_image:
            return pixels(x)
        return x * self.scale.to(x.device) + self.shift.to(x.device)


def load_run(run_dir: str | Path, device: str = "cpu", step: int | None = None,
             ema: bool = True, device_key: str = "device", bn_stats: str | None = None
             ) -> LoadedRun:
    """The newest checkpoint (or `step`) of a run; the config comes from the checkpoint itself.

    G is the moving average of the generator where the run kept one (train.ema), unless `ema`
    is False: then the generator as trained. Its batch-norm statistics are re-estimated from its
    own samples (gankit.ema.standing_stats, fixed seed) where the run's sample.bn_stats, or
    `bn_stats`, is "standing"; else they are the saved ones.
    """
    folder = Path(run_dir) / "checkpoints"
    tensors, meta = checkpoint.load(folder, step)
    check_contents(tensors, meta, str(folder))
    cfg = from_dict(meta["config"], where=str(folder))
    # the data's shape is saved with the weights; checkpoints before images knew only dim
    shape = meta.get("net_shape", {"dim": tensors["data.shift"].numel()})
    G, D = build_networks(cfg, shape)
    prefix = "G_ema" if ema and any(k.startswith("G_ema.") for k in tensors) else "G"
    checkpoint.unflatten_module(prefix, tensors, G, str(folder))
    checkpoint.unflatten_module("D", tensors, D, str(folder))
    dev = device_lib.resolve(device, device_key)
    bn_stats = cfg.sample.bn_stats if bn_stats is None else bn_stats
    check_bn_stats(bn_stats, "--bn-stats")
    G = G.to(dev).eval()
    if bn_stats == "standing":
        standing_stats(G)
    return LoadedRun(cfg, G, D.to(dev).eval(), int(meta["step"]),
                     tensors["data.shift"], tensors["data.scale"], shape, meta.get("classes"),
                     "ema" if prefix == "G_ema" else "trained", bn_stats)


__all__ = ["LoadedRun", "load_run"]
