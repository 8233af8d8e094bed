"""The `gankit` command: parses arguments and calls the library, nothing more."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import numpy as np

from gankit.errors import DivergenceError, GankitError


class _Group(click.Group):
    """Turns library errors into one line on stderr: exit 2 for bad input, 1 for divergence."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DivergenceError as e:
            click.echo(f"gankit: training diverged: {e}", err=True)
            sys.exit(1)
        except GankitError as e:
            click.echo(f"gankit: error: {e}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.version_option(package_name="gankit")
def main():
    """Train, see and measure GANs. Start with: gankit train ring"""


@main.command()
def presets():
    """List the presets, one line each."""
    from gankit.config import presets as all_presets

    items = all_presets()
    width = max(map(len, items))
    for name, description in items.items():
        click.echo(f"{name:<{width}}  {description}")


@main.command(context_settings={"ignore_unknown_options": False})
@click.argument("target", required=False)
@click.argument("overrides", nargs=-1)
@click.option("--out", "out", type=click.Path(file_okay=False), help="Run folder.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--seed", type=int, help="Shorthand for train.seed=S.")
@click.option("--until", type=int, help="Stop after this many steps (resume later).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(target, overrides, out, resume, seed, until, quiet):
    """Train PRESET or CONFIG.toml, with optional section.key=value overrides.

    \b
    gankit train ring
    gankit train grid loss.name=hinge train.steps=2000 --out runs/grid-hinge
    gankit train --resume --out runs/grid-hinge
    """
    from gankit import config as config_lib
    from gankit.train import fit

    if target is not None and "=" in target:  # `gankit train --resume key=value` is an override
        overrides, target = (target, *overrides), None
    if target is None:
        if not (resume and out):
            raise GankitError("give a preset or a .toml file (see `gankit presets`), or "
                              "--resume --out RUN")
        target = Path(out) / "config.toml"
    overrides = list(overrides) + ([f"train.seed={seed}"] if seed is not None else [])
    cfg = config_lib.load(target, overrides)
    if out is None:
        if resume:
            raise GankitError("--resume needs --out RUN, the run folder to continue")
        stem = Path(str(target)).stem
        out = Path("runs") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    click.echo(f"run folder: {out}", err=True)
    state = fit(cfg, out, resume=resume, until=until, progress=not quiet)
    click.echo(f"done: step {state.step}; pictures in {Path(out) / 'pictures'}", err=True)


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("-n", "n", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True,
              help="Where to write the samples (.npy, float32 (N, dim), data units).")
@click.option("--device", default="cpu", show_default=True)
def sample(run, n, seed, out, device):
    """Write N samples of a trained run to FILE.npy."""
    from gankit.load import load_run
    from gankit.sampling import generate

    if Path(out).suffix != ".npy":
        raise GankitError(f"--out {out!r}: toy-world samples are written as .npy")
    if not Path(out).resolve().parent.is_dir():
        raise GankitError(f"--out {out!r}: the folder {str(Path(out).parent)!r} does not exist")
    loaded = load_run(run, device)
    x = loaded.to_data(generate(loaded.G, n, seed)).numpy()
    np.save(out, x.astype(np.float32))
    click.echo(f"wrote {n} samples of shape {x.shape[1:]} to {out}", err=True)


@main.command(name="eval")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("-n", "n", type=click.IntRange(min=1), default=None,
              help="Samples (default: the protocol's number, 2,500 for mixtures).")
@click.option("--seed", type=int, default=2024, show_default=True)
@click.option("--device", default="cpu", show_default=True)
def evaluate(run, n, seed, device):
    """Print the world's metrics as JSON and append them to RUN/eval.jsonl."""
    from gankit.load import load_run
    from gankit.sampling import evaluate as evaluate_run
    from gankit.stats import JsonLines

    loaded = load_run(run, device)
    scores = evaluate_run(loaded.G, loaded.data, n, seed, to_data=loaded.to_data)
    record = {"step": loaded.step, "seed": seed, **scores}
    JsonLines(Path(run) / "eval.jsonl").append(record)
    click.echo(json.dumps(record, indent=1))
