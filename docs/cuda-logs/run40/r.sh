#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r40/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin
R=.carry/r40
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $R/test_estimate_cuda 2>&1 | grep -E "xattention scores|ok|FAIL|fail|error" | head -40
echo "== memcheck quick"; compute-sanitizer --tool memcheck $R/test_estimate_cuda quick 2>&1 | tail -2
echo "== racecheck quick"; compute-sanitizer --tool racecheck $R/test_estimate_cuda quick 2>&1 | tail -2
for i in 1 2; do
echo "== prev (afade14) $i"; $R/bench_prev --lengths 32768,131072 --method xattention 2>&1 | tail -2
echo "== new $i"; $R/bench_estimate --lengths 32768,131072 --method xattention 2>&1 | tail -2
done
echo "== new, all methods"; $R/bench_estimate --lengths 32768,131072 2>&1 | tail -9
echo "== ncu xattention 32K"; ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel $R/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -v "^==PROF== Profiling" | grep -E "^  [^ ]|duration" | sed 's/(const.*) (/ (/' | grep -A1 -E "xattention|strided|nvjet" 
} 2>&1 | tee $OUT/r.log
