"""Train the image presets on the CPU for a fixed number of steps and record speed and scores.

    python benchmarks/images.py                          # mnist and mnist-conditional
    python benchmarks/images.py --presets fashion-mnist --out benchmarks/results/runs

Budget: each preset's own `train.steps` (at batch 64: 5,000 G steps for mnist, 22-27 minutes
on 2 threads, 9 on an AVX-512 EPYC; 2,500 for mnist-conditional, about 11-13 minutes), all
threads of the machine; or a wall-time budget such as `train.steps=100000 train.max_minutes=60`
(issue 4's 60-minute runs).
Each run is a normal `gankit train` into --out/PRESET, so its sample grids (samples/step_*.png,
samples/training.gif, samples.png) stay there to look at. Recorded per run: wall time of the
whole fit, G steps/s, real images/s that D saw, and the digit classifier's scores on 10,000
samples (gankit eval). Rows are appended to benchmarks/results/images.jsonl and printed as a
Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from gankit import config
from gankit.device import cpu_description, keep_freed_cpu_memory
from gankit.load import load_run
from gankit.sampling import evaluate
from gankit.stats import JsonLines, clean
from gankit.train import fit

RESULTS = Path(__file__).parent / "results" / "images.jsonl"


def one_run(preset: str, out: Path, overrides: list[str]) -> dict:
    cfg = config.load(preset, overrides)
    start = time.perf_counter()
    steps = fit(cfg, out, progress=False).step  # fewer than train.steps under train.max_minutes
    wall = time.perf_counter() - start
    loaded = load_run(out)
    scores = evaluate(loaded.G, loaded.data, to_data=loaded.to_data)
    t = cfg.train
    return {"preset": preset, "overrides": overrides, "steps": steps, "batch": t.batch_size,
            "wall_s": round(wall, 1), "steps_per_s": round(steps / wall, 2),
            "images_per_s": round(steps * t.batch_size * t.n_critic / wall, 1),
            "threads": torch.get_num_threads(), "machine": platform.machine(),
            "cpu": cpu_description(), "torch": torch.__version__, "gpu": _gpu(cfg.train.device),
            "date": time.strftime("%Y-%m-%d"), "run": str(out), "bn_stats": loaded.bn_stats,
            **scores}


def _gpu(device: str) -> str | None:
    """The card a row was measured on (None on the CPU), as the GPU rows record it."""
    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        return torch.cuda.get_device_name()
    return None


def main() -> None:
    keep_freed_cpu_memory()  # as the `gankit` command does
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default="mnist,mnist-conditional")
    ap.add_argument("--out", default="benchmarks/results/runs")
    ap.add_argument("overrides", nargs="*", help="section.key=value for every run")
    args = ap.parse_args()
    rows = []
    for preset in args.presets.split(","):
        row = one_run(preset, Path(args.out) / preset, args.overrides)
        rows.append(row)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        JsonLines(RESULTS).append(row)
        print(json.dumps(clean(row), allow_nan=False), flush=True)
    keys = [k for k in ("classes", "class_kl", "confident", "mnist_score", "class_match",
                        "modes", "mode_kl", "channel_kl") if any(k in r for r in rows)]
    print("\n| preset | steps x batch | wall s | steps/s | images/s | " + " | ".join(keys) + " |")
    print("|---" * (5 + len(keys)) + "|")
    for r in rows:
        cells = [f"{r[k]:.3g}" if isinstance(r.get(k), float) else str(r.get(k, "")) for k in keys]
        print(f"| {r['preset']} | {r['steps']} x {r['batch']} | {r['wall_s']} | "
              f"{r['steps_per_s']} | {r['images_per_s']} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
