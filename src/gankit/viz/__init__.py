"""Pictures written into a run folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from gankit.losses import LOSSES
from gankit.stats import JsonLines
from gankit.viz.curves import curves_figure
from gankit.viz.images import grid, save_image_pictures
from gankit.viz.world import world_figure


def save_pictures(state, data, cfg, run_dir: Path, final: bool = False) -> None:
    """Vectors: pictures/world.png (+ a copy per step). Images: sample grids in samples/ and,
    when `final`, their animation. Both: pictures/curves.png."""
    folder = Path(run_dir) / "pictures"
    folder.mkdir(parents=True, exist_ok=True)
    if hasattr(data, "resolution"):
        save_image_pictures(state, data, run_dir, final)
    else:
        world_figure(state, data, cfg).savefig(folder / "world.png")
        shutil.copyfile(folder / "world.png", folder / f"world_{state.step:08d}.png")
    records = JsonLines(Path(run_dir) / "metrics.jsonl").read()
    if records:
        curves_figure(records, LOSSES[cfg.loss.name].prob).savefig(folder / "curves.png")


def drop_stop_pictures(run_dir: Path, step: int, picture_every: int, steps: int) -> None:
    """On resume: a stop's per-step picture off the picture steps goes, so the frames (and
    training.gif) are those of a run that never stopped."""
    if (picture_every and step % picture_every == 0) or step == steps:
        return
    for path in (Path(run_dir) / "samples" / f"step_{step:08d}.png",
                 Path(run_dir) / "pictures" / f"world_{step:08d}.png"):
        path.unlink(missing_ok=True)


__all__ = ["drop_stop_pictures", "save_pictures", "world_figure", "curves_figure", "grid"]
