"""Atomic, pickle-free checkpoints: tensors in safetensors, everything else in JSON.

A checkpoint is two files in `checkpoints/`: `step_00001000.safetensors` and `step_00001000.json`.
Each is written to a temporary file in the same folder, fsynced and renamed into place; the JSON,
which carries the SHA-256 of the tensor file, is renamed last, so a checkpoint exists only once
both halves are complete. A kill mid-save leaves at worst a stale temporary file, which the next
save removes, and the previous checkpoint intact.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gankit.errors import GankitError

FORMAT = 1
_NAME = re.compile(r"^step_(\d{8})\.json$")


def _fsync_dir(folder: Path) -> None:
    if os.name == "posix":
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path), fsync, rename over `path`, fsync the folder."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
    except SafetensorError as e:  # safetensors' own I/O errors (a full disk) are no OSErrors
        raise OSError(errno.EIO, str(e), str(path)) from None
    if os.name == "posix":  # safetensors creates files 0600; a shared run folder is readable
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def list_steps(folder: Path) -> list[int]:
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := _NAME.match(p.name)))


def is_count(value) -> bool:
    """An integer >= 0 as JSON holds one (a boolean is no count)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def non_finite(tensors: dict[str, torch.Tensor]) -> list[str]:
    """The names of the floating-point tensors holding NaN/Inf."""
    return [k for k, t in tensors.items() if t.is_floating_point() and not torch.isfinite(t).all()]


def _delete(folder: Path, step: int) -> None:
    for suffix in (".json", ".safetensors"):
        (Path(folder) / f"step_{step:08d}{suffix}").unlink(missing_ok=True)


def read_meta(folder: Path, step: int) -> dict | None:
    """The JSON half of checkpoint `step` as it is (unverified), or None if it cannot be read."""
    try:
        meta = json.loads((Path(folder) / f"step_{step:08d}.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def save(folder: Path, step: int, tensors: dict[str, torch.Tensor], meta: dict, keep: int,
         counts: Callable[[int], bool] = lambda step: True) -> Path:
    """Write checkpoint `step`; keep it and the newest `keep` of those that `counts` (all by
    default). Refuses to save non-finite weights."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".*.tmp"):
        stale.unlink()
    bad = non_finite(tensors)
    if bad:
        raise GankitError(f"refusing to save checkpoint {step}: non-finite values in {bad[:3]}")
    stem = f"step_{step:08d}"
    tensor_path = folder / f"{stem}.safetensors"
    cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    atomic_write(tensor_path, lambda tmp: save_file(cpu, str(tmp)))
    meta = {"format": FORMAT, "step": step, "sha256": file_digest(tensor_path), **meta}
    atomic_write_text(folder / f"{stem}.json", json.dumps(meta, indent=1))
    steps = list_steps(folder)
    kept = set([s for s in steps if counts(s)][-keep:]) | {step}
    for old in (s for s in steps if s not in kept):
        _delete(folder, old)
    # a tensor file without its JSON is the half of a save that was killed between the renames
    kept = {f"step_{s:08d}.safetensors" for s in list_steps(folder)}
    for orphan in folder.glob("step_*.safetensors"):
        if orphan.name not in kept:
            orphan.unlink()
    return folder / f"{stem}.json"


def remove_after(folder: Path, step: int) -> None:
    """Delete the checkpoints past `step` (a run that went back to `step` abandoned them)."""
    for old in (s for s in list_steps(folder) if s > step):
        _delete(folder, old)


def load(folder: Path, step: int | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """The tensors and metadata of checkpoint `step` (default: the newest), verified."""
    folder = Path(folder)
    steps = list_steps(folder)
    if not steps:
        raise GankitError(f"no checkpoint in {str(folder)!r}")
    step = steps[-1] if step is None else step
    if step not in steps:
        shown = ", ".join(map(str, steps[-10:]))
        raise GankitError(f"no checkpoint of step {step} in {str(folder)!r}; its steps: "
                          f"{'..., ' if len(steps) > 10 else ''}{shown}")
    meta_path = folder / f"step_{step:08d}.json"
    tensor_path = meta_path.with_suffix(".safetensors")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as e:
        raise GankitError(f"checkpoint {str(meta_path)!r} is unreadable or corrupt ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "sha256" not in meta:
        raise GankitError(f"checkpoint {str(meta_path)!r} is not a gankit checkpoint "
                          f"of format {FORMAT}")
    for key in ("step", "bad_steps", "rollbacks"):
        if key in meta and not is_count(meta[key]):
            raise GankitError(f"checkpoint {str(meta_path)!r}: {key!r} must be an integer >= 0, "
                              f"got {meta[key]!r}")
    if meta.get("step") != step:  # a renamed or edited file: which step would a resume take?
        raise GankitError(f"checkpoint {str(meta_path)!r} says it is step {meta.get('step')!r}, "
                          f"its name says {step}")
    if not tensor_path.is_file():
        raise GankitError(f"checkpoint {str(tensor_path)!r} is missing")
    if file_digest(tensor_path) != meta["sha256"]:
        raise GankitError(f"checkpoint {str(tensor_path)!r} is truncated or corrupt "
                          "(its SHA-256 does not match the JSON beside it)")
    try:
        tensors = load_file(str(tensor_path))
    except (SafetensorError, OSError) as e:
        raise GankitError(f"checkpoint {str(tensor_path)!r} cannot be read ({e})") from None
    # save() never writes NaN/Inf: such values came from elsewhere and would be sampled silently
    bad = non_finite(tensors)
    if bad:
        raise GankitError(f"checkpoint {str(tensor_path)!r} holds NaN/Inf values in "
                          f"{', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}")
    return tensors, meta


# --- flattening state dicts --------------------------------------------------------------------


def flatten_module(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in module.state_dict().items()}


def unflatten_module(prefix: str, tensors: dict[str, torch.Tensor], module, where: str) -> None:
    state = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    own = module.state_dict()
    cast = [k for k, v in state.items() if k in own and v.dtype != own[k].dtype]
    if cast:  # load_state_dict would cast them silently (a bool or integer weight)
        k = cast[0]
        raise GankitError(f"checkpoint {where}: {prefix}.{k} is {state[k].dtype}, the network "
                          f"holds {own[k].dtype}")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as e:
        # torch's message: a header line, then one line per kind of misfit (keys, shapes)
        detail = "; ".join(line.strip() for line in str(e).strip().splitlines()[1:])
        raise GankitError(f"checkpoint {where}: {prefix} does not fit the network the config "
                          f"builds: {detail[:400] or str(e).strip()}") from None


def flatten_optimizer(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Optimizer state: tensors for safetensors, the rest (param groups) for JSON."""
    sd = opt.state_dict()
    tensors, plain = {}, {"param_groups": sd["param_groups"], "state": {}}
    for idx, entry in sd["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.state.{idx}.{key}"] = value
            else:
                plain["state"].setdefault(str(idx), {})[key] = value
    return tensors, plain


def unflatten_optimizer(prefix: str, tensors: dict, plain: dict, opt, where: str) -> None:
    try:
        state: dict[int, dict] = {int(i): dict(v) for i, v in plain.get("state", {}).items()}
        for key, value in tensors.items():
            if key.startswith(prefix + ".state."):
                idx, name = key[len(prefix) + 7:].split(".", 1)
                state.setdefault(int(idx), {})[name] = value
        groups = plain["param_groups"]
        for g in groups:  # JSON turned tuples into lists
            g.update({k: tuple(v) for k, v in g.items() if k == "betas"})
        opt.load_state_dict({"state": state, "param_groups": groups})
        _check_optimizer(opt)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise GankitError(f"checkpoint {where}: {prefix} state does not fit ({e})") from None


def _check_optimizer(opt: torch.optim.Optimizer) -> None:
    """What load_state_dict does not check: hyperparameters and moments that fit the weights."""
    for group in opt.param_groups:
        for key in ("lr", "eps", "weight_decay"):
            value = group.get(key, 0.0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    0 <= value < float("inf")):
                raise ValueError(f"{key} must be a finite number >= 0, got {value!r}")
        betas = group.get("betas", (0.0, 0.0))
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        for p in group["params"]:
            for name, value in opt.state.get(p, {}).items():
                if not torch.is_tensor(value):
                    continue
                want = (1,) if name == "step" else tuple(p.shape)
                got = (value.numel(),) if name == "step" else tuple(value.shape)
                if got != want:
                    raise ValueError(f"{name} has shape {tuple(value.shape)} for a weight of "
                                     f"shape {tuple(p.shape)}")
