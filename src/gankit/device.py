"""The one module that knows about accelerators."""

from __future__ import annotations

import os
import platform
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


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4
_KEEP_FREED = 2**30  # freed memory the heap may keep before returning its top to the system
_TOP_PAD = 64 * 2**20  # extra taken at each heap growth, so growth is rare


def on_glibc() -> bool:
    """Whether this process's C library is glibc, the one malloc keep_freed_cpu_memory tunes."""
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def keep_freed_cpu_memory() -> bool:
    """Have glibc's malloc serve every block from its heap and keep freed memory for reuse.

    By default glibc serves large blocks (activations, from 128 KiB up) with fresh mmaps that it
    unmaps on free, and trims the heap's free top, so each training step or feature batch
    page-faults and zeroes the same memory again: about 50,000 faults a second and a tenth of the
    process's CPU time spent in the kernel, on this project's 2-core machine. Without mmaps and
    with a 1 GiB trim threshold (what PyTorch's CPU performance guide gets by swapping the
    allocator) a CPU step and an InceptionV3 batch run faster for some more peak memory
    (BENCHMARKS.md, "Keeping freed memory"). Process-wide, so the `gankit` command and the
    benchmarks call it; a library user may. Returns False, changing nothing, where the C library
    is not glibc.
    """
    import ctypes

    if not on_glibc():
        return False
    libc = ctypes.CDLL(None)
    return all([libc.mallopt(param, value) == 1 for param, value in (  # each, even after a refusal
        (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, _KEEP_FREED), (_M_TOP_PAD, _TOP_PAD))])


def cpu_description() -> str:
    """The CPU a figure was measured on, e.g. 'AMD EPYC, AVX512, 2 cores'.

    The project's machines differ from session to session under one architecture name (x86_64):
    an Intel Xeon, an AMD EPYC with AVX2 and one with AVX-512 ran the same `mnist` step in 270,
    320 and 100 ms (BENCHMARKS.md), so benchmark rows name the model and the vector instructions
    PyTorch's CPU kernels use (`torch.backends.cpu.get_cpu_capability`).
    """
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        model = names[0] if names else model
    except OSError:
        pass  # not Linux: platform's answer
    return f"{model}, {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores"
