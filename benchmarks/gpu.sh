#!/usr/bin/env bash
# Issue 4's benchmarks on one CUDA GPU: the GPU tests, then five runs trained side by side on the
# one GPU for MINUTES of wall time each (small DCGANs leave a GPU mostly idle, so several at a
# time cost little per run): the stacked-mnist, mnist and fashion-mnist presets and wider
# (width 128) variants, then FID/KID/PR/DC and Stacked MNIST modes on the GPU, one evaluation at
# a time, for the averaged (EMA) and the trained generator, and InceptionV3 images/s.
#   bash benchmarks/gpu.sh [MINUTES] [OUT]        # defaults: 6.5 and runs/gpu
# Needs MNIST, Fashion-MNIST and the InceptionV3 weights where gankit finds them (README).
# Rows go to benchmarks/results/{images,evaluation}.jsonl.
set -eu
MIN=${1:-6.5}; OUT=${2:-runs/gpu}; mkdir -p "$OUT"
python -m pytest -q tests/test_gpu.py
C="train.device=cuda train.steps=1000000 train.max_minutes=$MIN train.ema=0.999 \
train.picture_every=5000 train.checkpoint_every=5000 train.monitor_every=5000 train.log_every=100"
W="generator.width=128 discriminator.width=128"
# name preset [overrides]: each run lands in $OUT/name/preset
RUNS=("mnist mnist" "mnist-w128 mnist $W" "fashion-mnist fashion-mnist"
      "fashion-mnist-w128 fashion-mnist $W" "stacked-mnist-w128 stacked-mnist $W")
pids=()
for r in "${RUNS[@]}"; do
  # shellcheck disable=SC2086
  set -- $r; name=$1; preset=$2; shift 2
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=3 python benchmarks/images.py --presets "$preset" --out "$OUT/$name" $C "$@" \
    > "$OUT/$name.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || { echo "a training failed: see $OUT/*.log" >&2; exit 1; }; done
tail -n 4 "$OUT"/*.log
python benchmarks/evaluation.py speed -n 4000 --device cuda --batch 250
for g in "" --no-ema; do
  for r in "${RUNS[@]}"; do
    # shellcheck disable=SC2086
    set -- $r
    if [ "$2" = stacked-mnist ]; then m=world; else m=fid,kid,pr,dc; fi
    python benchmarks/evaluation.py run "$OUT/$1/$2" --metrics $m --device cuda $g
  done
done
