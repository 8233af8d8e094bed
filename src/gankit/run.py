"""The run folder, the contract between commands.

  config.toml      resolved config, written before step 0
  metrics.jsonl    training statistics and periodic metrics, one JSON object per line
  eval.jsonl       results of `gankit eval`
  checkpoints/     safetensors + JSON (see checkpoint.py)
  pictures/        the world, loss curves
"""

from __future__ import annotations

import re
from pathlib import Path

from gankit import config as config_lib
from gankit.checkpoint import atomic_write_text, list_steps
from gankit.errors import GankitError


def diff_configs(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dicts."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += diff_configs(va, vb, f"{prefix}{key}.")
        elif va != vb:
            out.append(f"{prefix}{key}")
    return out


# Keys a resume may change: how long and where to train, how often to log and the description,
# not what is trained. train.steps only where no schedule (lr_decay, instance noise) is tied to
# it; data.path where a resume checks the data's contents (vector data: the saved mean and scale,
# exactly; images: the digest of the decoded images in checkpoints since 2026-11-27), or where it
# names the same file as before.
RESUMABLE = {"description", "train.steps", "train.max_minutes", "train.device",
             "train.log_every", "train.eval_every", "train.monitor_every",
             "train.monitor_after", "train.picture_every", "train.checkpoint_every",
             "train.keep_checkpoints", "train.max_bad_steps",
             "train.max_rollbacks"}
# Sections and keys added since runs were first saved, with the values older runs trained with: a
# resume compares a checkpoint without them as if it held these. ([sample] may not change on
# resume: sample and eval read the checkpoint's config, which a resume with no steps left never
# rewrites; `--rejection` and `--bn-stats` choose per command instead.)
ADDED = {"sample": {"rejection": "none", "quantile": 1.0, "bn_stats": "saved"}}


def _with_added(cfg: dict) -> dict:
    """`cfg` with the keys of ADDED it lacks, section by section."""
    return cfg | {name: keys | cfg.get(name, {}) for name, keys in ADDED.items()}


def _scheduled(saved: dict) -> bool:
    train = saved.get("train", {})
    return train.get("lr_decay", "none") != "none" or train.get("instance_noise", 0) > 0


def _path_may_change(saved: dict, new: dict, checked: bool) -> bool:
    from gankit.data import IMAGE_KINDS

    old_path, new_path = saved.get("data", {}).get("path"), new.get("data", {}).get("path")
    return (checked or saved.get("data", {}).get("kind") not in IMAGE_KINDS
            or _same_path(old_path, new_path))


def _same_path(old, new) -> bool:
    # runs made before paths were stored absolute hold the path as given (relative, or "~/...")
    if not (isinstance(old, str) and isinstance(new, str) and old):
        return False
    o, n = Path(old).expanduser(), Path(new).expanduser()
    if o.is_absolute() or old == new:
        return o == n
    parts = tuple(p for p in o.parts if p != ".")
    return bool(parts) and n.parts[-len(parts):] == parts


def resume_changes(saved: dict, new: dict, contents_checked: bool = False) -> list[str]:
    """Keys that differ between a run's config and the one it is resumed with and may not.

    `contents_checked`: image data's digest will be compared, so its path may change too."""
    saved, new = _with_added(saved), _with_added(new)
    return [key for key in diff_configs(saved, new)
            if not (key in RESUMABLE and not (key == "train.steps" and _scheduled(saved))
                    or key == "data.path" and _path_may_change(saved, new, contents_checked))]


def _refuse(changed: list[str], saved: dict, where: str) -> None:
    why = ""
    if "train.steps" in changed:  # the one key that is resumable only sometimes
        why = (" (train.steps is fixed here because this run's learning-rate decay or "
               "instance-noise schedule runs over it)")
    elif "data.path" in changed:
        why = (" (this checkpoint predates the digest that lets moved images be checked: "
               "give the path it was trained with)")
    raise GankitError(f"--resume: the config differs from {where}, in {', '.join(changed)}{why}; "
                      "resume with that config or start a new run folder")


def check_resume(run_dir: Path, meta: dict, cfg: config_lib.Config, classes,
                 fingerprint: str | None = None) -> None:
    """The newest checkpoint's own record against what a resume would continue it with."""
    saved = meta.get("config", {})
    digest = meta.get("data_fingerprint")
    changed = resume_changes(saved, cfg.to_dict(), contents_checked=digest is not None)
    if changed:  # config.toml may have been edited since: the checkpoint's config decides
        _refuse(changed, saved, f"the one the checkpoint in {Path(run_dir) / 'checkpoints'} "
                                "was trained with")
    if meta.get("classes") != classes:  # a class folder added, removed or renamed
        raise GankitError(f"{run_dir}: the run was trained on classes {meta.get('classes')} "
                          f"and the data now holds {classes}; restore the data or start a new "
                          "run")
    if digest is not None and digest != fingerprint:  # images added, removed or edited
        raise GankitError(f"{run_dir}: the images in data.path={cfg.data.options.get('path')!r} "
                          "differ from those the run was trained on (files added, removed or "
                          "changed); restore them or start a new run")
    step = meta.get("step", 0)
    if step > cfg.train.steps:
        raise GankitError(f"--resume: train.steps={cfg.train.steps} is below the checkpoint's "
                          f"step {step}; give at least {step}")


# what a gankit run writes before its first checkpoint, and nothing a user would keep
STALE = ("metrics.jsonl", "pictures/world*.png", "pictures/curves.png", "samples/step_*.png",
         "samples.png")


def _unfinished_run(run_dir: Path) -> bool:
    """A gankit run that stopped before its first checkpoint: a config.toml that gankit wrote
    (every section, data.kind set), checkpoints/ holding nothing but checkpoint files (.json,
    .safetensors, temporary), and nothing only a checkpointed run has (eval.jsonl, the GIF)."""
    ckpts = run_dir / "checkpoints"
    if (not ckpts.is_dir() or (run_dir / "eval.jsonl").exists()
            or (run_dir / "samples" / "training.gif").exists()):
        return False
    if any(not re.fullmatch(r"\.?step_\d{8}\.(json|safetensors)(\.tmp)?", p.name)
           for p in ckpts.iterdir()):
        return False
    try:
        raw = config_lib.tomllib.loads((run_dir / "config.toml").read_text())
    except (OSError, ValueError):
        return False
    return all(isinstance(raw.get(k), dict) for k in
               ("data", "generator", "discriminator", "loss", "train")) and "kind" in raw["data"]


def record_config(run_dir: Path, cfg: config_lib.Config) -> None:
    """config.toml: the config the run trains with now (a resume may have changed how long)."""
    atomic_write_text(Path(run_dir) / "config.toml", cfg.to_toml())


def load_config(run_dir: Path) -> config_lib.Config:
    path = Path(run_dir) / "config.toml"
    if not path.is_file():
        raise GankitError(f"{str(run_dir)!r} is not a gankit run folder (no config.toml)")
    return config_lib.load(path)


def prepare(run_dir: Path, cfg: config_lib.Config, resume: bool) -> None:
    """Create the folder for a new run, or check that a resumed one matches `cfg`."""
    run_dir = Path(run_dir)
    ckpts = run_dir / "checkpoints"
    if resume:
        if not run_dir.is_dir():
            raise GankitError(f"--resume: run folder {str(run_dir)!r} does not exist")
        if not list_steps(ckpts):
            raise GankitError(f"--resume: no checkpoint in {str(ckpts)!r}")
        saved = load_config(run_dir).to_dict()
        # a moved data path is judged against the checkpoint (and its data digest) in fit
        changed = resume_changes(saved, cfg.to_dict(), contents_checked=True)
        if changed:
            _refuse(changed, saved, repr(str(run_dir / "config.toml")))
        return
    if list_steps(ckpts):
        raise GankitError(f"run folder {str(run_dir)!r} already holds a run; pass --resume to "
                          "continue it or choose another --out")
    if run_dir.is_dir() and any(run_dir.iterdir()) and not _unfinished_run(run_dir):
        raise GankitError(f"--out {str(run_dir)!r} is a folder with other files in it; give a "
                          "new or empty folder for the run")
    try:
        (run_dir / "pictures").mkdir(parents=True, exist_ok=True)
        ckpts.mkdir(exist_ok=True)
        for stale in STALE:  # an unfinished run's leftovers are not this run's
            for path in run_dir.glob(stale):
                path.unlink()
        record_config(run_dir, cfg)
    except OSError as e:
        raise GankitError(f"--out {str(run_dir)!r}: cannot create the run folder there "
                          f"({e.strerror})") from None
