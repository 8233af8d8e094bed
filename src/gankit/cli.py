"""The `gankit` command: parses arguments and calls the library, nothing more."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import numpy as np

from gankit.errors import DivergenceError, GankitError

# seeds as a config's train.seed takes them: TOML's 64-bit integers
SEED = click.IntRange(-2**63, 2**63 - 1)


def sampling_options(f):
    """--rejection / --quantile / --bn-stats: how samples are drawn, overriding the run's [sample]
    config."""
    f = click.option("--bn-stats", type=click.Choice(["saved", "standing"]), default=None,
                     help="standing: re-estimate G's batch-norm statistics from its own samples "
                          "before drawing (BigGAN's standing statistics). Default: the run's "
                          "sample.bn_stats.")(f)
    f = click.option("--quantile", type=click.FloatRange(0, 1, min_open=True), default=None,
                     help="DRS: D's logit quantile (over a burn-in) above which every sample is "
                          "kept; 1 = their maximum, exact DRS. Default: sample.quantile.")(f)
    return click.option("--rejection", type=click.Choice(["none", "drs"]), default=None,
                        help="drs: keep G's samples by discriminator rejection sampling "
                             "(Azadi et al. 2019). Default: the run's sample.rejection.")(f)


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
        except OSError as e:  # a path the system refuses: no permission, too long, disk full
            where = f"{e.filename!r}: " if e.filename is not None else ""
            click.echo(f"gankit: error: {where}{e.strerror or e}", err=True)
            sys.exit(2)
        except (MemoryError, RuntimeError) as e:
            if not _out_of_memory(e):
                raise
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            click.echo(f"gankit: error: out of memory ({first[:160]}); try a smaller "
                       "train.batch_size, smaller nets or images, or fewer samples", err=True)
            sys.exit(2)


def _out_of_memory(e: BaseException) -> bool:
    """A size the machine cannot hold (numpy's and torch's allocators, CUDA's)."""
    text = str(e)
    return isinstance(e, MemoryError) or "OutOfMemory" in type(e).__name__ or any(
        s in text for s in ("DefaultCPUAllocator", "can't allocate memory", "out of memory"))


@click.group(cls=_Group)
@click.version_option(package_name="gankit")
def main():
    """Train, see and measure GANs. Start with: gankit train ring"""
    from gankit.device import keep_freed_cpu_memory

    keep_freed_cpu_memory()  # the command owns its process: faster CPU steps and features


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
@click.option("--seed", type=SEED, help="Shorthand for train.seed=S.")
@click.option("--until", type=click.IntRange(min=1),
              help="Stop after this many steps (resume later).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train(target, overrides, out, resume, seed, until, quiet):
    """Train PRESET or CONFIG.toml, with optional section.key=value overrides.

    \b
    gankit train ring
    gankit train grid loss.name=least_squares train.steps=2000 --out runs/grid-ls
    gankit train --resume --out runs/grid-ls
    """
    from gankit import checkpoint
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
    from gankit.data import IMAGE_KINDS

    where = Path(out) / ("samples" if cfg.data.kind in IMAGE_KINDS else "pictures")
    saved = checkpoint.list_steps(Path(out) / "checkpoints")
    if state.step < cfg.train.steps:  # --until, Ctrl-C or train.max_minutes
        kept = ("with a checkpoint" if state.step in saved else  # not of NaN/Inf weights
                f"without a checkpoint (the last is step {saved[-1]})" if saved else
                "without a checkpoint")
        click.echo(f"stopped at step {state.step} of {cfg.train.steps}, {kept} (pictures in "
                   f"{where})" + (f"; continue with: gankit train --resume --out {out}"
                                  if saved else ""), err=True)
    else:
        click.echo(f"done: step {state.step}; pictures in {where}", err=True)


def _check_parent(out: Path) -> None:
    """Before any work: the folder a file is written into must exist."""
    if not out.resolve().parent.is_dir():
        raise GankitError(f"--out {str(out)!r}: the folder {str(out.parent)!r} does not exist")


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("-n", "n", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--out", "out", type=click.Path(), required=True,
              help="FILE.npy (vectors: float32 (N, dim) in data units; images: uint8 "
                   "(N, H, W, C)), or for images grid.png or a folder of PNGs.")
@click.option("--class", "cls", default=None, help="Class of a conditional run (name or index).")
@click.option("--device", default="cpu", show_default=True)
@sampling_options
def sample(run, n, seed, out, cls, device, rejection, quantile, bn_stats):
    """Write N samples of a trained run to FILE.npy, grid.png or DIR."""
    import torch

    from gankit.load import load_run
    from gankit.viz.images import save_images

    slash = str(out).endswith(("/", "\\"))  # Path() drops it: "runs/v2.b/" is a folder
    out = Path(out)
    suffix = "" if slash else out.suffix.lower()
    # a folder: no suffix, an existing folder, or a version-like name ("runs/v1.2")
    folder = not suffix or out.is_dir() or suffix[1:].isdigit()
    kind = suffix[1:] if suffix in (".npy", ".png") else "folder"
    loaded = load_run(run, device, device_key="--device", bn_stats=bn_stats)
    if kind != "npy" and not loaded.is_image:
        raise GankitError(f"--out {str(out)!r}: toy-world samples are written as .npy")
    if kind == "folder" and not folder:
        raise GankitError(f"--out {str(out)!r}: give FILE.npy, grid.png or a folder")
    if kind != "folder":
        _check_parent(out)
    elif out.exists() and not out.is_dir():
        raise GankitError(f"--out {str(out)!r} is a file: give a folder for PNGs, or FILE.npy")
    labels = None if cls is None else torch.full((n,), loaded.class_index(cls))
    drawn = loaded.sampler(rejection, quantile)(n, seed, labels)
    x = loaded.to_data(drawn.x).numpy()

    def write():
        if kind == "npy":  # through a file object: np.save would append ".npy" to "x.NPY"
            with open(out, "wb") as f:
                np.save(f, x if loaded.is_image else x.astype(np.float32))
        else:
            save_images(x, out)

    _write_out(out, write)
    kept = (f", kept by DRS from {drawn.proposals} ({drawn.accept_rate:.1%})"
            if drawn.log_m is not None else "")
    click.echo(f"wrote {n} samples of shape {x.shape[1:]} to {out}{kept}", err=True)


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True,
              help="walk.gif")
@click.option("--seeds", default="0,1,2,3", show_default=True,
              help="Latent seeds visited in turn (the walk returns to the first).")
@click.option("-n", "n", type=click.IntRange(min=1), default=8, show_default=True,
              help="Walks side by side.")
@click.option("--frames", type=click.IntRange(min=2), default=12, show_default=True,
              help="Frames between two seeds.")
@click.option("--class", "cls", default=None, help="Only this class of a conditional run.")
@click.option("--device", default="cpu", show_default=True)
def interpolate(run, out, seeds, n, frames, cls, device):
    """An animated walk through G's latent space (spherical interpolation between seeds).

    A conditional run shows one row per class walking the same latents.
    """
    from gankit.latent import walk_frames
    from gankit.load import load_run
    from gankit.viz.images import save_walk

    if not str(out).lower().endswith(".gif"):
        raise GankitError(f"--out {out!r}: the walk is written as an animated .gif")
    _check_parent(Path(out))
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise GankitError(f"--seeds {seeds!r}: give integers separated by commas") from None
    if len(seed_list) < 2:
        raise GankitError(f"--seeds {seeds!r}: a walk needs at least two seeds")
    if not all(-2**63 <= x < 2**63 for x in seed_list):
        raise GankitError(f"--seeds {seeds!r}: seeds must lie in -2**63..2**63-1")
    loaded = load_run(run, device, device_key="--device")
    if not loaded.is_image:
        raise GankitError("interpolate draws pictures of image runs; this run has vector data")
    rows = [loaded.class_index(cls)] if cls is not None else None
    frames_u8 = walk_frames(loaded.G, loaded.to_data, n, seed_list, frames, rows)
    held = _write_out(out, lambda: save_walk(frames_u8, n, out))
    merged = (f" ({held} in the GIF: identical frames in a row are stored once, shown for their "
              "total time)" if held != len(frames_u8) else "")
    click.echo(f"wrote a walk of {len(frames_u8)} frames{merged} through seeds {seed_list} to "
               f"{out}", err=True)


@main.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.argument("a")
@click.argument("b")
@click.argument("c")
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True,
              help="Picture: rows of A, B, C samples and the results.")
@click.option("-n", "n", type=click.IntRange(min=100), default=4000, show_default=True,
              help="Generated samples to find the attributes among.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--device", default="cpu", show_default=True)
def arithmetic(run, a, b, c, out, n, seed, device):
    """Latent arithmetic A - B + C, e.g. gankit arithmetic RUN "7 thick" 7 1 --out r.png

    Each operand is a class (name or index) and/or properties (thick, thin). Its latent is the
    mean latent of generated samples that carry those attributes; the picture shows samples of
    A, B, C and the result; the report says how often results carry the predicted attributes.
    """
    from gankit import latent as latent_lib
    from gankit.load import load_run
    from gankit.viz.images import save_arithmetic

    if not _writes_pictures(Path(out).suffix.lower()):
        raise GankitError(f"--out {out!r}: the picture needs an image extension Pillow writes "
                          "in grey and in colour, e.g. .png, .jpg, .webp")
    _check_parent(Path(out))
    loaded = load_run(run, device, device_key="--device")
    if not loaded.is_image:
        raise GankitError("arithmetic works on image runs; this run has vector data")
    classify, classes = latent_lib.digit_classifier(loaded.cfg.data.kind)
    specs = [latent_lib.parse_spec(t, loaded.classes or classes) for t in (a, b, c)]
    pool = latent_lib.make_pool(loaded.G, loaded.to_data, n, seed,
                                loaded.net_shape.get("n_classes", 0), classify)
    result = latent_lib.arithmetic(loaded.G, loaded.to_data, pool, specs, [1, -1, 1],
                                   seed=seed, classify=classify)
    _write_out(out, lambda: save_arithmetic(pool.images, result, out))
    click.echo(json.dumps(result.report, indent=1))
    click.echo(f"picture: {out}", err=True)


def _write_out(out, write):
    """write(); a refusal of the system (a full disk, no permission) names --out, which an
    error raised inside an open file would not."""
    try:
        return write()
    except OSError as e:
        raise GankitError(f"--out {str(out)!r}: cannot write there ({e.strerror or e})") from None


def _writes_pictures(suffix: str) -> bool:
    """Whether Pillow writes grey (L) and colour (RGB) pictures as `suffix` (.xbm writes
    neither: found out before the work, not after)."""
    import io

    from PIL import Image

    Image.init()
    fmt = Image.registered_extensions().get(suffix)
    if fmt not in Image.SAVE:
        return False
    try:
        for mode in ("L", "RGB"):
            Image.new(mode, (4, 4)).save(io.BytesIO(), format=fmt)
    except (OSError, ValueError, KeyError):
        return False
    return True


@main.command(name="eval")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--metrics", "metrics", default="world", show_default=True,
              help="Comma-separated: world (the data's own protocol), fid, kid, pr "
                   "(precision/recall), dc (density/coverage), is (Inception Score).")
@click.option("-n", "n", type=click.IntRange(min=2), default=None,
              help="Generated samples (default: the protocol's number: 2,500 for mixtures, "
                   "26,000 for Stacked MNIST modes, 10,000 for FID and the rest).")
@click.option("--features", default="inception", show_default=True,
              help="Feature extractor for fid/kid/pr/dc/is: inception or digits.")
@click.option("--inception", default=None, help="Path of the FID InceptionV3 weights file.")
@click.option("--seed", type=SEED, default=2024, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-ema", is_flag=True,
              help="Evaluate the generator as trained, not its moving average (train.ema).")
@sampling_options
def evaluate(run, metrics, n, features, inception, seed, device, no_ema, rejection, quantile,
             bn_stats):
    """Print metrics as JSON (and a table on stderr); append them to RUN/eval.jsonl."""
    from gankit.evaluation import evaluate_run, parse_metrics
    from gankit.load import load_run
    from gankit.stats import JsonLines, clean

    names = parse_metrics(metrics)
    loaded = load_run(run, device, ema=not no_ema, device_key="--device", bn_stats=bn_stats)
    scores = evaluate_run(loaded, names, n, seed, features, inception, device, rejection,
                          quantile)
    record = {"step": loaded.step, "seed": seed, "generator": loaded.generator, **scores}
    JsonLines(Path(run) / "eval.jsonl").append(record)
    click.echo(json.dumps(clean(record), indent=1, allow_nan=False))
    width = max(len(k) for k in record)
    for k, v in record.items():
        click.echo(f"{k:<{width}}  {v:.4g}" if isinstance(v, float) else f"{k:<{width}}  {v}",
                   err=True)
