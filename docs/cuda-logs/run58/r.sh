#!/bin/bash
# 066f5f3 + temporary phase timers in flexprefill_plan_layer_cuda (FP_TRACE=1; a device synchronisation
# before each timestamp)
mkdir -p /tmp/l && tar xzf .carry/r58/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin OMP_WAIT_POLICY=passive
R=/tmp/r58; mkdir -p $R && tar xzf .carry/r58/bins.tgz -C $R
{
echo "== trace 32K / 128K"; FP_TRACE=1 $R/bench_estimate --lengths 32768,131072 --method flexprefill --repeats 3 2>&1 | tail -12
echo "== ncu 32K"; ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel $R/bench_estimate --lengths 32768 --repeats 1 --method flexprefill 2>&1 | grep -v "^==PROF== Profiling" | grep -E "^  [^ ]|duration" | sed 's/(const.*) (/ (/' | head -80
} 2>&1 | tee $OUT/r.log
