"""Milliseconds per training step (d_step + g_step) of a preset, without the rest of fit().

    python benchmarks/step_time.py grid --threads 2 --batch 256 512
    python benchmarks/step_time.py grid --threads 2 --batch 256 train.share_fake=true
    python benchmarks/step_time.py mnist --batch 64 --glibc-malloc   # without the malloc setting

Warm-up steps are excluded; the figure is the mean over --steps steps of one process.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from gankit import config
from gankit.data import build
from gankit.device import cpu_description, keep_freed_cpu_memory
from gankit.train import build_state, d_step, g_step, make_fake


def step_ms(preset: str, batch: int, overrides: list[str], steps: int) -> float:
    cfg = config.load(preset, [f"train.batch_size={batch}", *overrides])
    data = build(cfg.data.kind, cfg.data.options)
    st = build_state(cfg, data, torch.device("cpu"))

    def step():
        real, y = data.batch(batch, st.rng)
        fake = make_fake(st, batch, y) if cfg.train.share_fake else None
        d_step(st, real, y, cfg, 0.0, (), fake)
        g_step(st, y, batch, cfg, 0.0, (), fake)

    for _ in range(30):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, epilog="section.key=value config "
                                 "overrides may stand anywhere on the line",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("preset")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--batch", type=int, nargs="+", default=[256])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--glibc-malloc", action="store_true",
                    help="leave glibc's malloc settings as they are, for comparison (the `gankit` "
                         "command keeps freed memory: gankit.device.keep_freed_cpu_memory)")
    # section.key=value overrides may stand anywhere, also after --batch's list of numbers
    argv = sys.argv[1:]
    overrides = [a for a in argv if "=" in a and not a.startswith("-")]
    args = ap.parse_args([a for a in argv if a not in overrides])
    args.overrides = overrides
    torch.set_num_threads(args.threads)
    malloc = "glibc defaults" if args.glibc_malloc or not keep_freed_cpu_memory() else "kept"
    for batch in args.batch:
        ms = step_ms(args.preset, batch, args.overrides, args.steps)
        print(f"{args.preset} batch {batch} {args.overrides} {args.threads} thread(s): "
              f"{ms:.2f} ms/step, malloc {malloc}, {cpu_description()}")


if __name__ == "__main__":
    main()
