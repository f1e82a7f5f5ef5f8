#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r34/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
R=.carry/r34
{
echo "== test_estimate_cuda"; /usr/bin/time -f "%e s" $R/test_estimate_cuda 2>&1 | grep -vE "^  (xattention scores|vertical)" | tail -6
echo "== memcheck quick"; compute-sanitizer --tool memcheck $R/test_estimate_cuda quick 2>&1 | tail -2
echo "== racecheck quick"; compute-sanitizer --tool racecheck $R/test_estimate_cuda quick 2>&1 | tail -2
for i in 1 2; do
echo "== bench old (c3ae04a) $i"; $R/bench_old --lengths 32768,131072 2>&1 | tail -8
echo "== bench new $i"; $R/bench_estimate --lengths 32768,131072 2>&1 | tail -8
done
for m in xattention minference flexprefill; do
echo "== ncu $m"; ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel $R/bench_estimate --lengths 32768 --repeats 1 --method $m 2>&1 | grep -v "^==PROF== Profiling" | grep -E "^  [^ ]|duration" | sed 's/(const.*) (/ (/'
done
} 2>&1 | tee $OUT/r.log
