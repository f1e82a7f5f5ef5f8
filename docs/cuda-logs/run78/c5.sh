#!/bin/bash
# run 78, call 5 (.carry/gpu, f675e27's binaries): per-kernel GPU times of dam_online's and
# xattention's estimates at 32K (ncu, one estimate + plan + attention each), and bench_estimate for
# the two once more: where the 26 % / 29 % of their own attention go
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
NCU="ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel"
{
for m in dam_online xattention; do echo "== ncu $m 32768"; $NCU $B/bench_estimate --lengths 32768 --repeats 1 --method $m 2>&1 | grep -E "^  [^ ]|duration" | sed 's/(const.*) (/ (/; s/<radix::policy_hub.*>(/(/' | cut -c1-150; done
for i in 1 2; do echo "== bench_estimate ($i)"; $B/bench_estimate --method dam_online --method xattention --lengths 32768 --repeats 5 2>&1 | tail -2; done
} 2>&1 | tee $OUT/c5.log
