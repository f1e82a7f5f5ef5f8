#!/bin/bash
# run 69: run 68 + row_stats writes 1 / the row sum, so vertical_slash_sums multiplies instead of a float64
# division per logit: test_estimate_cuda full and quick under memcheck / racecheck, bench_estimate
# against c89490c alternated three times, ncu kernel times at 32K
mkdir -p /tmp/l && tar xzf .carry/r69/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin OMP_WAIT_POLICY=passive
R=/tmp/r69; mkdir -p $R && tar xzf .carry/r69/bins.tgz -C $R
NCU="ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel"
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $R/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(|note| s$" | head -20
for t in memcheck racecheck; do echo "== $t test_estimate_cuda quick"; timeout 200 compute-sanitizer --tool $t --error-exitcode 9 $R/test_estimate_cuda quick 2>&1 | tail -2; done
for i in 1 2 3; do
echo "== bench_estimate new ($i)"; $R/bench_estimate --lengths 32768,131072 --repeats 3 2>&1 | tail -9
echo "== bench_estimate prev c89490c ($i)"; $R/bench_prev --lengths 32768,131072 --repeats 3 2>&1 | tail -9
done
for m in xattention minference dam_online; do echo "== ncu $m 32K"; $NCU -k regex:"block_sums|row_stats|probe_stats|vertical_slash|online_|xattention_select|nvjet" $R/bench_estimate --lengths 32768 --repeats 1 --method $m 2>&1 | grep -E "^  [^ ]|duration" | sed 's/(const.*) (/ (/'; done
} 2>&1 | tee $OUT/r.log
