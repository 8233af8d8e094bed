#!/usr/bin/env bash
# Issue 4's benchmarks on one CUDA GPU: the GPU tests, then stacked-mnist, mnist and fashion-mnist
# trained side by side on the one GPU for MINUTES of wall time each (small DCGANs leave a GPU
# mostly idle, so three at a time cost little per run), then FID/KID/PR/DC and Stacked MNIST modes
# on the GPU for the averaged (EMA) and the trained generator, and InceptionV3 images/s.
#   bash benchmarks/gpu.sh [MINUTES] [OUT]        # defaults: 5.5 and runs/gpu
# Needs MNIST, Fashion-MNIST and the InceptionV3 weights where gankit finds them (README).
# Rows go to benchmarks/results/{images,evaluation}.jsonl.
set -eu
MIN=${1:-5.5}; OUT=${2:-runs/gpu}; mkdir -p "$OUT"
python -m pytest -q tests/test_gpu.py
C="train.device=cuda train.steps=1000000 train.max_minutes=$MIN train.ema=0.999 \
train.picture_every=5000 train.checkpoint_every=5000 train.monitor_every=5000 train.log_every=100"
pids=()
for p in stacked-mnist mnist fashion-mnist; do
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=4 python benchmarks/images.py --presets $p --out "$OUT" $C > "$OUT/$p.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || { echo "a training failed: see $OUT/*.log" >&2; exit 1; }; done
tail -n 4 "$OUT"/*.log
for b in 50 250; do python benchmarks/evaluation.py speed -n 2000 --device cuda --batch $b; done
for g in "" --no-ema; do
  for p in mnist fashion-mnist; do
    python benchmarks/evaluation.py run "$OUT/$p" --metrics fid,kid,pr,dc --device cuda $g
  done
  python benchmarks/evaluation.py run "$OUT/stacked-mnist" --metrics world --device cuda $g
done
