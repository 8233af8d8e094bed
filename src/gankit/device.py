"""The one module that knows about accelerators."""

from __future__ import annotations

import re
import warnings

import torch

from gankit.errors import GankitError

DEVICE_NAME = re.compile(r"^(auto|cpu|mps|cuda(:(0|[1-9]\d{0,3}))?)$")  # torch: no "cuda:01"


def resolve(name: str = "auto", key: str = "train.device") -> torch.device:
    """'auto' picks CUDA when present, else the CPU; an unavailable device is a clear error
    naming `key`, the setting the user gave it with."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not DEVICE_NAME.match(name):
        raise GankitError(f"{key} {name!r} is not one of auto, cpu, cuda, cuda:N, mps")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GankitError(f"{key}={name!r} but no CUDA device is available; use cpu or auto")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise GankitError(f"{key}={name!r} but this machine has {torch.cuda.device_count()} "
                          "CUDA device(s), numbered from 0")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise GankitError(f"{key}={name!r} but MPS is not available; use cpu or auto")
    return device


def fused_adam(device: torch.device) -> bool:
    """Fused Adam (one kernel per step, not a dozen small ops per tensor) where torch has it."""
    return device.type in ("cpu", "cuda")


def rng_states(device: torch.device) -> dict[str, torch.Tensor]:
    """Global RNG states as uint8 tensors: the CPU's, and every CUDA device's on a CUDA run."""
    out = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"cuda{i}"] = s
    return out


def set_rng_states(states: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(states["torch"])
    cuda = [states[k] for k in sorted(states) if k.startswith("cuda")]
    if cuda and torch.cuda.is_available():
        if len(cuda) != torch.cuda.device_count():
            warnings.warn(f"checkpoint holds RNG states of {len(cuda)} CUDA devices, this machine "
                          f"has {torch.cuda.device_count()}: CUDA random numbers will differ",
                          stacklevel=2)
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
