#!/usr/bin/env bash
# MNIST recipes at a CPU hour's steps, trained side by side on one CUDA GPU, then InceptionV3 FID
# (10,000 EMA samples vs the 10,000 test images) at the last and the middle checkpoint, the last
# also with G's batch-norm statistics re-estimated (benchmarks/fid_curve.py --standing):
#   bash benchmarks/gpu_sweep.sh [STEPS] [OUT]     # defaults: 13500 (the 60-minute CPU run's
#                                                  # 13,425 steps) and runs/sweep
# DEVICE=cpu N=100 (images per FID side) make a quick dry run. Rows go to
# benchmarks/results/{images,fid_curve}.jsonl.
set -eu
STEPS=${1:-13500}; OUT=${2:-runs/sweep}; HALF=$((STEPS / 2)); mkdir -p "$OUT"
DEVICE=${DEVICE:-cuda}; N=${N:-10000}
C="train.device=$DEVICE train.steps=$STEPS train.ema=0.999 train.checkpoint_every=$HALF \
train.keep_checkpoints=4 train.picture_every=$HALF train.monitor_every=$HALF train.log_every=100"
# name [overrides]: the mnist preset, seed 0 unless named
RUNS=("seed0" "seed1 train.seed=1" "ttur train.lr_g=1e-4 train.lr_d=4e-4"
      "adam0 train.beta1=0.0 train.beta2=0.99" "ema9995 train.ema=0.9995")
pids=()
for r in "${RUNS[@]}"; do
  # shellcheck disable=SC2086
  set -- $r; name=$1; shift
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=3 python benchmarks/images.py --presets mnist --out "$OUT/$name" $C "$@" \
    > "$OUT/$name.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || { echo "a training failed: see $OUT/*.log" >&2; exit 1; }; done
tail -n 3 "$OUT"/*.log
runs=(); for r in "${RUNS[@]}"; do runs+=("$OUT/${r%% *}/mnist"); done
python benchmarks/fid_curve.py "${runs[@]}" --steps "$STEPS,$HALF" --standing "$STEPS" \
  --device "$DEVICE" -n "$N"
