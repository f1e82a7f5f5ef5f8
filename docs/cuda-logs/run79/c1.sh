#!/bin/bash
# run 79, call 1 (.carry/gpu, binaries of branch dam-online-patterns; main's bench_estimate gzipped as
# .carry/gpu/bench_estimate_prev.gz): dam_online's column / diagonal step in two kernels that decide each
# probe-row cell once (online_cells: the logits read once, on-bits by ballot; online_diagonals: counts
# from the bits) instead of online_patterns (126 us at 32K in run 78 c5, every logit read twice).
# test_estimate_cuda full (dam_online's GPU plans == CPU plans), quick under memcheck / racecheck,
# bench_estimate dam_online alternated with main's three times, ncu of the two kernels at 32K
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
P=/tmp/dam-gpu/bench_estimate_prev
rm -f $P; gunzip -c .carry/gpu/bench_estimate_prev.gz >$P && chmod +x $P
NCU="ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel"
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(| s$" | head -20
for t in memcheck racecheck; do echo "== $t test_estimate_cuda quick"; timeout 240 compute-sanitizer --tool $t --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2; done
for i in 1 2 3; do
echo "== bench_estimate new ($i)"; $B/bench_estimate --method dam_online --lengths 32768,131072 --repeats 5 2>&1 | tail -2
echo "== bench_estimate main ($i)"; $P --method dam_online --lengths 32768,131072 --repeats 5 2>&1 | tail -2
done
echo "== ncu dam_online 32768"; $NCU -k regex:"online_" $B/bench_estimate --lengths 32768 --repeats 1 --method dam_online 2>&1 | grep -E "^  [^ ]|duration" | cut -c1-120
} 2>&1 | tee $OUT/c1.log
