#!/usr/bin/env bash
# Issue 19's open GPU checks, most wanted first (each step has its own time limit, and
# what finished is kept if the caller's limit cuts the rest), for a machine with a CUDA
# GPU and PyTorch installed:  bash benchmarks/gpu_group.sh [OUTDIR]
# 1. the CUDA tests of grouped training and of the profile model with controls (~1 min);
# 2. `--only groupquality`: 8 seeds' test auROC solo vs grouped, three ways (TF32 and
#    autotuning; bench_group_quality.GPU_VARIANTS) - decides whether models_per_group
#    may default above 1 on CUDA (~5 min);
# 3. one quick-preset comparison (fourier, none x 4 seeds, λ fixed) with two workers
#    sharing the GPU, then solo and grouped, each timed, results.csv kept;
# 4. `--only group` (models per second, measured 2026-11-28) if time is left.
# benchmarks/results/h200_group.md has the first runs' output.
# Wheels of missing dependencies may be put in .whl/ (see benchmarks/README.md).
set -uo pipefail
out=${1:-${OUT:-results/gpu_group}}
source "$(dirname "$0")/gpu_setup.sh"

timeout 120 python3 -m pytest -q -p no:cacheprovider -m cuda tests/test_cuda.py \
    -k "grouped or profile_model" 2>&1 | tee "$out/pytest_cuda.log"

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
bench() {  # benchmark names, timeout
    timeout "$2" python3 -m benchmarks --device cuda --retries 0 --only "$1" \
        --out "$out/benchmarks_$1_cuda.md" 2>&1 | tee "$out/benchmarks_$1_cuda.log"
}
bench groupquality "${QUALITY_LIMIT:-330}"
run workers2 120 --models-per-group 1 --workers 2
run solo 90 --models-per-group 1
run grouped 90 --models-per-group 4
bench group "${BENCH_LIMIT:-200}"
