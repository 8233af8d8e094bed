"""The run folder, the contract between commands.

  config.toml      resolved config, written before step 0
  metrics.jsonl    training statistics and periodic metrics, one JSON object per line
  eval.jsonl       results of `gankit eval`
  checkpoints/     safetensors + JSON (see checkpoint.py)
  pictures/        the world, loss curves
"""

from __future__ import annotations

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
        changed = diff_configs(saved, cfg.to_dict())
        if changed:
            raise GankitError(f"--resume: the config differs from {str(run_dir / 'config.toml')!r} "
                              f"in {', '.join(changed)}; resume with the saved config or start "
                              "a new run folder")
        return
    if list_steps(ckpts):
        raise GankitError(f"run folder {str(run_dir)!r} already holds a run; pass --resume to "
                          "continue it or choose another --out")
    try:
        (run_dir / "pictures").mkdir(parents=True, exist_ok=True)
        ckpts.mkdir(exist_ok=True)
        (run_dir / "metrics.jsonl").unlink(missing_ok=True)
        atomic_write_text(run_dir / "config.toml", cfg.to_toml())
    except OSError as e:
        raise GankitError(f"--out {str(run_dir)!r}: cannot create the run folder there "
                          f"({e.strerror})") from None
