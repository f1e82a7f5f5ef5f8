#!/bin/bash
source scripts/cuda-device-env.sh
B=build-cuda
for m in xattention minference; do
echo "== ncu $m"; ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel $B/tests/cuda/bench_estimate --lengths 32768 --repeats 1 --method $m 2>&1 | grep -v "^==PROF== Profiling" | grep -E "^  [^ ]|duration" | sed 's/(const.*) (/ (/'
done > $OUT/c3.log 2>&1
tail -3 $OUT/c3.log; ls models/ 2>&1
