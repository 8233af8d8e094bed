"""The one module that knows about accelerators."""

from __future__ import annotations

import torch

from gankit.errors import GankitError


def resolve(name: str = "auto") -> torch.device:
    """'auto' picks CUDA when present, else the CPU; an unavailable device is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GankitError(f"train.device={name!r} but no CUDA device is available; use cpu or auto")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise GankitError(f"train.device={name!r} but MPS is not available; use cpu or auto")
    return device


def rng_states() -> dict[str, torch.Tensor]:
    """Global RNG states (CPU and every CUDA device) as uint8 tensors."""
    out = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"cuda{i}"] = s
    return out


def set_rng_states(states: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(states["torch"])
    cuda = [states[k] for k in sorted(states) if k.startswith("cuda")]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
