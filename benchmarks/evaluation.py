"""Time the feature extractors and evaluate trained runs with the published protocols.

    python benchmarks/evaluation.py speed [--device cuda]      # images/s of the extractors
    python benchmarks/evaluation.py run RUN --metrics fid,kid,pr,dc
    python benchmarks/evaluation.py run RUN --metrics world    # Stacked MNIST: 26,000 samples

`speed` extracts InceptionV3 pool features (batch 50) and digit-classifier features from MNIST
test images and reports images/s (a warm-up batch excluded). `run` evaluates a run folder (train
one with `python benchmarks/images.py --presets PRESET train.steps=N`, which records the training
wall time) exactly as `gankit eval` does, and records the wall time of the whole evaluation,
noting whether the real features came from the cache. Rows go to
benchmarks/results/evaluation.jsonl.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from gankit.data import build
from gankit.device import cpu_description, keep_freed_cpu_memory
from gankit.evaluation import evaluate_run, extractor, parse_metrics
from gankit.load import load_run
from gankit.stats import JsonLines, clean

RESULTS = Path(__file__).parent / "results" / "evaluation.jsonl"


def speed(n: int, device: str = "cpu", batch: int = 50) -> list[dict]:
    images = build("mnist", {"split": "test"}).reference(n + batch)
    rows = []
    for name in ("inception", "digits"):
        feats = extractor(name, device=device)
        if name == "inception":
            feats.batch = batch
        feats(images[:batch])  # warm-up: loading, first-call allocations, cuDNN's choices
        start = time.perf_counter()
        feats(images[batch:])  # returns NumPy arrays, so the device has finished when it returns
        wall = time.perf_counter() - start
        rows.append({"bench": "extract", "features": name, "images": n,
                     "device": device if name == "inception" else "cpu",
                     "batch": feats.batch,
                     "wall_s": round(wall, 2), "images_per_s": round(n / wall, 1)})
    return rows


def evaluate(run: str, metrics: str, n: int | None, features: str, ema: bool = True,
             device: str = "cpu", bn_stats: str | None = None, step: int | None = None) -> dict:
    from gankit.metrics.cache import cache_root
    before = set(cache_root().glob("*.safetensors"))
    loaded = load_run(run, device, step=step, ema=ema, bn_stats=bn_stats)
    start = time.perf_counter()
    scores = evaluate_run(loaded, parse_metrics(metrics), n, features=features, device=device)
    wall = time.perf_counter() - start
    return {"bench": "eval", "run": run, "preset": loaded.cfg.description[:40],
            "data": loaded.cfg.data.kind, "step": loaded.step, "metrics": metrics,
            "generator": loaded.generator, "bn_stats": loaded.bn_stats, "device": device,
            "wall_s": round(wall, 1),
            "real_features_cached": set(cache_root().glob("*.safetensors")) == before, **scores}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    sp = sub.add_parser("speed")
    sp.add_argument("-n", type=int, default=500)
    sp.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (the digit classifier "
                    "always runs on the CPU)")
    sp.add_argument("--batch", type=int, default=50, help="InceptionV3 batch size")
    sp.add_argument("--glibc-malloc", action="store_true",
                    help="leave glibc's malloc settings as they are, for comparison (`gankit` "
                         "keeps freed memory: gankit.device.keep_freed_cpu_memory)")
    rp = sub.add_parser("run")
    rp.add_argument("run")
    rp.add_argument("--metrics", default="fid,kid,pr,dc")
    rp.add_argument("-n", type=int, default=None)
    rp.add_argument("--features", default="inception")
    rp.add_argument("--no-ema", action="store_true", help="G as trained, not its moving average")
    rp.add_argument("--device", default="cpu", help="where G and InceptionV3 run")
    rp.add_argument("--bn-stats", choices=["saved", "standing"], default=None,
                    help="G's batch-norm statistics (default: the run's sample.bn_stats)")
    args = ap.parse_args()
    glibc = getattr(args, "glibc_malloc", False)
    malloc = "glibc defaults" if glibc or not keep_freed_cpu_memory() else "kept"
    rows = speed(args.n, args.device, args.batch) if args.what == "speed" else [
        evaluate(args.run, args.metrics, args.n, args.features, not args.no_ema, args.device,
                 args.bn_stats)]
    for row in rows:
        record(row | {"malloc": malloc}, args.device, RESULTS)


def record(row: dict, device: str, results: Path) -> None:
    """Append `row` to `results` (and print it) with the machine it was measured on."""
    gpu = torch.cuda.get_device_name() if device.startswith("cuda") else None
    row |= {"threads": torch.get_num_threads(), "machine": platform.machine(),
            "cpu": cpu_description(), "torch": torch.__version__, "gpu": gpu,
            "date": time.strftime("%Y-%m-%d")}
    results.parent.mkdir(parents=True, exist_ok=True)
    JsonLines(results).append(row)
    print(json.dumps(clean(row), allow_nan=False), flush=True)


if __name__ == "__main__":
    main()
