#!/usr/bin/env bash
# The GPU checks in one go, for a machine with a CUDA GPU and PyTorch already installed:
#   bash benchmarks/gpu_check.sh [OUTDIR]
# 1. the CUDA tests (tests/test_cuda.py: same numbers as the CPU, one host sync per
#    epoch, host-memory data, bf16, DeepLIFT/SHAP);
# 2. the benchmarks on cuda, tables to OUTDIR/benchmarks_cuda.md;
# 3. `regbench run` on cuda: the smoke preset, then the README's quick preset (all
#    regularizers, λ tuned), each timed.
# Wheels of missing dependencies may be put in .whl/ (see benchmarks/README.md).
set -uo pipefail
out=${1:-${OUT:-results/gpu_check}}
source "$(dirname "$0")/gpu_setup.sh"

python3 -m pytest -q -p no:cacheprovider -m cuda tests/test_cuda.py 2>&1 | tee "$out/pytest_cuda.log"

python3 -m benchmarks --device cuda --retries 0 \
    --only step,mixed,penalty,epoch,throughput,deeplift,profile,scaling,group,convgrad \
    --out "$out/benchmarks_cuda.md" 2>&1 | tee "$out/benchmarks_cuda.log"

run() {  # name, timeout, regbench run arguments...
    local name=$1 limit=$2; shift 2
    local start=$SECONDS
    timeout "$limit" python3 -m regbench.cli run --no-progress --device cuda \
        --out "/tmp/regbench-$name" "$@" > "$out/run_$name.log" 2>&1
    echo "regbench run ($name): exit $?, $((SECONDS - start)) s" | tee -a "$out/gpu.txt"
    tail -n 25 "$out/run_$name.log"
}
run smoke 120 --preset smoke
run quick "${QUICK_LIMIT:-240}" --regularizers all
cp /tmp/regbench-quick/report.md "$out/quick_report.md" 2>/dev/null || true
