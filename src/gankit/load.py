"""Rebuild a trained generator (and discriminator) from a run folder, with no script."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from gankit import checkpoint
from gankit import device as device_lib
from gankit.config import Config, from_dict
from gankit.data import VectorData
from gankit.data import build as build_data
from gankit.train import build_networks


@dataclass
class LoadedRun:
    cfg: Config
    data: VectorData
    G: nn.Module  # the EMA generator when the run kept one
    D: nn.Module
    step: int

    @property
    def G_device(self):
        return next(self.G.parameters()).device


def load_run(run_dir: str | Path, device: str = "cpu", step: int | None = None) -> LoadedRun:
    """The newest checkpoint (or `step`) of a run; the config comes from the checkpoint itself."""
    folder = Path(run_dir) / "checkpoints"
    tensors, meta = checkpoint.load(folder, step)
    cfg = from_dict(meta["config"], where=str(folder))
    data = build_data(cfg.data.kind, cfg.data.options)
    G, D = build_networks(cfg, data.dim)
    prefix = "G_ema" if any(k.startswith("G_ema.") for k in tensors) else "G"
    checkpoint.unflatten_module(prefix, tensors, G, str(folder))
    checkpoint.unflatten_module("D", tensors, D, str(folder))
    dev = device_lib.resolve(device)
    return LoadedRun(cfg, data, G.to(dev).eval(), D.to(dev).eval(), int(meta["step"]))


__all__ = ["LoadedRun", "load_run"]
