#!/usr/bin/env bash
# Go on with issue 41's two profile runs, one thread each, side by side, in the
# background; their output is appended to logs/. Stop them with
#   pkill -TERM -f "regbench run --preset quick --scenario spi1_profile"
# (each keeps a snapshot of its model in training), then commit studies/issue41.
set -euo pipefail
cd "$(dirname "$0")/../.."
for scenario in spi1_profile_lowsignal spi1_profile; do
  nohup regbench run --preset quick --scenario "$scenario" --model profile \
    --regularizers fourier,none --lambda-protocol paper --seeds 6 --threads 1 \
    --out "studies/issue41/prof41_$scenario" --no-progress \
    >> "studies/issue41/logs/prof41_$scenario.log" 2>&1 &
  echo "started $scenario (pid $!)"
done
