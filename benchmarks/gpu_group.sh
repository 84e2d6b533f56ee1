#!/usr/bin/env bash
# Issue 19's GPU checks in one go (about 8 minutes on an H200), for a machine with a
# CUDA GPU and PyTorch installed:  bash benchmarks/gpu_group.sh [OUTDIR]
# 1. the CUDA tests of grouped training and of the profile model with controls;
# 2. `python -m benchmarks --only groupquality,group --device cuda`: 8 seeds' test auROC
#    solo vs grouped, TF32 on and off; models per second for groups of 1-32 (quick
#    preset) and 1, 10, 30 (paper preset's sizes);
# 3. one quick-preset comparison (fourier, none x 4 seeds, λ fixed) solo, grouped, and
#    with two workers sharing the GPU, each timed, results.csv kept.
# benchmarks/results/h200_group.md has the first run's output.
# Wheels of missing dependencies may be put in .whl/ (see benchmarks/README.md).
set -uo pipefail
out=${1:-${OUT:-results/gpu_group}}
source "$(dirname "$0")/gpu_setup.sh"

timeout 150 python3 -m pytest -q -p no:cacheprovider -m cuda tests/test_cuda.py \
    -k "grouped or profile_model" 2>&1 | tee "$out/pytest_cuda.log"

timeout "${BENCH_LIMIT:-330}" python3 -m benchmarks --device cuda --retries 0 \
    --only groupquality,group \
    --out "$out/benchmarks_group_cuda.md" 2>&1 | tee "$out/benchmarks_group_cuda.log"

run() {  # name, timeout, regbench run arguments...
    local name=$1 limit=$2; shift 2
    local start=$SECONDS
    timeout "$limit" python3 -m regbench.cli run --no-progress --device cuda --preset quick \
        --regularizers fourier,none --no-tune --out "/tmp/regbench-$name" "$@" \
        > "$out/run_$name.log" 2>&1
    echo "regbench run ($name): exit $?, $((SECONDS - start)) s" | tee -a "$out/gpu.txt"
    tail -n 4 "$out/run_$name.log"
    cp "/tmp/regbench-$name/results.csv" "$out/results_$name.csv" 2>/dev/null || true
}
run solo 120 --models-per-group 1
run grouped 120 --models-per-group 4
run workers2 120 --models-per-group 1 --workers 2
