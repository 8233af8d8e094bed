"""A training state's checkpoints: what is saved, loading it back, and going back to an earlier
checkpoint when a run diverges (`fit` calls `roll_back`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gankit import checkpoint
from gankit import device as device_lib
from gankit.config import Config
from gankit.errors import DivergenceError, GankitError

if TYPE_CHECKING:
    from gankit.train import GANState


def state_tensors(state: GANState, cfg: Config) -> tuple[dict, dict]:
    tensors = checkpoint.flatten_module("G", state.G) | checkpoint.flatten_module("D", state.D)
    if state.G_ema is not None:
        tensors |= checkpoint.flatten_module("G_ema", state.G_ema)
    opt_g, plain_g = checkpoint.flatten_optimizer("opt_g", state.opt_g)
    opt_d, plain_d = checkpoint.flatten_optimizer("opt_d", state.opt_d)
    rngs = {f"rng.{k}": v for k, v in device_lib.rng_states(state.device).items()}
    tensors |= opt_g | opt_d | rngs | {"rng.loop": state.rng.get_state()}
    # the data's affine map, so samples can be put in data units without the data at hand
    tensors |= {"data.shift": state.data_shift, "data.scale": state.data_scale}
    meta = {"config": cfg.to_dict(), "opt_g": plain_g, "opt_d": plain_d,
            "net_shape": state.net_shape, "classes": state.classes,
            "bad_steps": state.bad_steps, "rollbacks": state.rollbacks,
            "data_fingerprint": state.data_fingerprint}
    return tensors, meta


# the tensors a training checkpoint holds, by name
TENSOR_PREFIXES = ("G.", "D.", "G_ema.", "opt_g.state.", "opt_d.state.", "rng.")
DATA_MAP = ("data.shift", "data.scale")


def check_contents(tensors: dict, meta: dict, where: str) -> None:
    """What the rest of gankit counts on in a checkpoint: its names, types and sizes (a
    checkpoint edited by hand or written by another tool fails here, with the key named)."""
    missing = [k for k in ("config", "step") if k not in meta]
    missing += [k for k in DATA_MAP if k not in tensors]
    if missing:
        raise GankitError(f"checkpoint {where} lacks {', '.join(missing)}; it is not a complete "
                          "gankit checkpoint")
    unknown = [k for k in tensors if k not in DATA_MAP and not k.startswith(TENSOR_PREFIXES)]
    if unknown:  # strict, as for the networks' own keys
        raise GankitError(f"checkpoint {where} holds tensors gankit does not know: "
                          f"{', '.join(unknown[:3])}")
    for key, kind in (("config", dict), ("net_shape", dict), ("opt_g", dict), ("opt_d", dict),
                      ("loop", dict)):
        if key in meta and not isinstance(meta[key], kind):
            raise GankitError(f"checkpoint {where}: {key!r} must be a JSON object, got "
                              f"{type(meta[key]).__name__}")
    shape = meta.get("net_shape", {})
    if not all(checkpoint.is_count(v) for v in shape.values()):
        raise GankitError(f"checkpoint {where}: 'net_shape' must hold integers >= 0, got {shape}")
    classes, n = meta.get("classes"), shape.get("n_classes", 0)
    if classes is not None and (not isinstance(classes, list) or len(classes) != n
                                or not all(isinstance(c, str) for c in classes)):
        raise GankitError(f"checkpoint {where}: 'classes' must list the {n} class names of the "
                          f"networks, got {str(classes)[:80]}")
    shift, scale = (tensors[k] for k in DATA_MAP)
    dim = shape.get("dim", shift.numel())
    if shift.shape != (dim,) or scale.shape != (dim,):
        raise GankitError(f"checkpoint {where}: data.shift and data.scale must be of shape "
                          f"({dim},), got {tuple(shift.shape)} and {tuple(scale.shape)}")


def unlogged(meta: dict, where: str) -> tuple[dict, int, int | None]:
    """What the training loop had not logged yet when the checkpoint was written: the sums
    of the statistics since the last record, the steps skipped since it, the step a return to
    a checkpoint came from (checkpoints from before 2026-11-27 hold none of it)."""
    loop = meta.get("loop", {})
    stats, skipped, back = (loop.get("stats", {}), loop.get("skipped", 0),
                            loop.get("rolled_back_from"))
    count = checkpoint.is_count
    if not isinstance(stats, dict) or not count(skipped) or not (back is None or count(back)):
        raise GankitError(f"checkpoint {where}: 'loop' holds {str(loop)[:80]}, not the "
                          "training loop's unlogged statistics")
    return stats, skipped, back


def load_state(state: GANState, tensors: dict, meta: dict, where: str) -> None:
    """Put a checkpoint (checked by `check_contents`) into `state`: nets, optimizers, RNGs."""
    missing = [k for k in ("opt_g", "opt_d") if k not in meta]
    missing += [k for k in ("rng.loop", "rng.torch") if k not in tensors]
    if missing:
        raise GankitError(f"checkpoint {where} lacks {', '.join(missing)}; it is not a complete "
                          "gankit training checkpoint")
    checkpoint.unflatten_module("G", tensors, state.G, where)
    checkpoint.unflatten_module("D", tensors, state.D, where)
    if state.G_ema is not None:
        checkpoint.unflatten_module("G_ema", tensors, state.G_ema, where)
    checkpoint.unflatten_optimizer("opt_g", tensors, meta["opt_g"], state.opt_g, where)
    checkpoint.unflatten_optimizer("opt_d", tensors, meta["opt_d"], state.opt_d, where)
    try:
        device_lib.set_rng_states({k[4:]: v for k, v in tensors.items()
                                   if k.startswith("rng.") and k != "rng.loop"})
        state.rng.set_state(tensors["rng.loop"])
    except (RuntimeError, TypeError) as e:
        raise GankitError(f"checkpoint {where}: a random-number state does not fit ({e})") \
            from None
    state.step = int(meta["step"])
    state.bad_steps = int(meta.get("bad_steps", 0))  # checkpoints before they were saved: 0
    state.rollbacks = int(meta.get("rollbacks", 0))


def finite(state: GANState, cfg: Config) -> bool:
    """Whether everything a checkpoint would hold is finite (a finite loss can still leave
    NaN/Inf weights behind, e.g. through a NaN gradient)."""
    return not checkpoint.non_finite(state_tensors(state, cfg)[0])


def _targets(folder: Path, upto: int) -> Callable[[int], bool]:
    """Which checkpoints a diverging run may go back to: the periodic ones up to step `upto`,
    the last before the failures. A straight run and a resumed one (which also has the
    checkpoints its stops wrote) hold the same of these, so they go back to the same one."""
    def target(step: int) -> bool:
        meta = checkpoint.read_meta(folder, step) or {}
        if "periodic" in meta:
            return step <= upto and meta["periodic"] is True
        # checkpoints before 2026-11-27: periodic by the checkpoint_every they were written with
        train = meta.get("config", {}).get("train", {}) if isinstance(meta.get("config"), dict) \
            else {}
        every = train.get("checkpoint_every", 1000) if isinstance(train, dict) else 0
        return step <= upto and isinstance(every, int) and every > 0 and step % every == 0

    return target


def save_checkpoint(state: GANState, cfg: Config, run_dir: Path, loop: dict | None = None,
                    periodic: bool = False) -> Path:
    """Checkpoint `state` (and `loop`, what the training loop has not yet logged); `periodic`
    where train.checkpoint_every called for it, not a stop."""
    folder = Path(run_dir) / "checkpoints"
    tensors, meta = state_tensors(state, cfg)
    meta |= {"loop": loop or {}, "periodic": periodic}
    # retention spares the newest checkpoints a diverging run may go back to: not those
    # written during the failures now going on (state.bad_steps), which would push them out
    counts = _targets(folder, state.step - state.bad_steps)
    try:
        return checkpoint.save(folder, state.step, tensors, meta, cfg.train.keep_checkpoints,
                               counts)
    except GankitError as e:
        last = checkpoint.list_steps(folder)
        kept = f"the last good checkpoint (step {last[-1]}) is kept" if last else \
            "no checkpoint was saved before"
        raise DivergenceError(f"{e}; {kept}") from None


def roll_back(state: GANState, cfg: Config, run_dir: Path, step: int, failure: str) -> int:
    """After `failure` at `step` (NaN/Inf losses in `state.bad_steps` steps in a row, or NaN/Inf
    weights), go back to the newest periodic checkpoint from before the failed steps and delete
    those after it; returns its step. The batches and noise go on from where they are: from the
    same weights, the same draws would fail again. Raises DivergenceError where there is no
    such checkpoint or the returns (train.max_rollbacks) are spent."""
    folder, t = Path(run_dir) / "checkpoints", cfg.train
    first_bad = step - state.bad_steps + 1  # = state.step before the failed steps
    saved = checkpoint.list_steps(folder)
    is_target = _targets(folder, first_bad)
    target = ([s for s in saved if is_target(s)] or [None])[-1]
    if target is None or state.rollbacks >= t.max_rollbacks:
        why = (" with no checkpoint from before it to go back to" if target is None else
               f" after {state.rollbacks} return(s) to step {target}" if state.rollbacks else "")
        kept = f"step {saved[-1]}" if saved else "none"
        raise DivergenceError(
            f"step {step}: {failure}{why}, so training stopped (last good checkpoint: {kept}); "
            "try lower learning rates, a gradient penalty (loss.penalty=r1) or another loss")
    rollbacks = state.rollbacks
    rngs = state.rng.get_state(), device_lib.rng_states(state.device)
    tensors, meta = checkpoint.load(folder, target)
    load_state(state, tensors, meta, str(folder))
    state.rng.set_state(rngs[0])
    device_lib.set_rng_states(rngs[1])
    state.bad_steps, state.rollbacks = 0, rollbacks + 1
    checkpoint.remove_after(folder, target)
    return target
