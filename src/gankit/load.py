"""Rebuild a trained generator (and discriminator) from a run folder, with no script."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gankit import checkpoint
from gankit import device as device_lib
from gankit.config import Config, from_dict
from gankit.data import VectorData
from gankit.data import build as build_data
from gankit.errors import GankitError
from gankit.train import build_networks


@dataclass
class LoadedRun:
    cfg: Config
    G: nn.Module  # the EMA generator when the run kept one
    D: nn.Module
    step: int
    shift: torch.Tensor  # (dim,): data = model * scale + shift
    scale: torch.Tensor

    @property
    def data(self) -> VectorData:
        """The run's data, rebuilt from its config (a `points` run needs its file, unchanged)."""
        data = build_data(self.cfg.data.kind, self.cfg.data.options)
        data.check_map(self.shift, self.scale, f"data.path {self.cfg.data.options.get('path')!r}")
        return data

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        """Model space -> data units, with the map saved in the checkpoint."""
        return x * self.scale.to(x.device) + self.shift.to(x.device)


def load_run(run_dir: str | Path, device: str = "cpu", step: int | None = None) -> LoadedRun:
    """The newest checkpoint (or `step`) of a run; the config comes from the checkpoint itself."""
    folder = Path(run_dir) / "checkpoints"
    tensors, meta = checkpoint.load(folder, step)
    cfg = from_dict(meta["config"], where=str(folder))
    if "data.shift" not in tensors:
        raise GankitError(f"checkpoint in {str(folder)!r} lacks data.shift/data.scale")
    dim = tensors["data.shift"].numel()
    G, D = build_networks(cfg, dim)
    prefix = "G_ema" if any(k.startswith("G_ema.") for k in tensors) else "G"
    checkpoint.unflatten_module(prefix, tensors, G, str(folder))
    checkpoint.unflatten_module("D", tensors, D, str(folder))
    dev = device_lib.resolve(device)
    return LoadedRun(cfg, G.to(dev).eval(), D.to(dev).eval(), int(meta["step"]),
                     tensors["data.shift"], tensors["data.scale"])


__all__ = ["LoadedRun", "load_run"]
