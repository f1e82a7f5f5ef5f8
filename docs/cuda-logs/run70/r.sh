#!/bin/bash
# run 70: XAttention's block sums on two kernels chosen per row chunk (one warp per row up to 4,096
# super-tokens, the CTA-per-row kernel beyond; bit-identical sums) + run 69: test_estimate_cuda full
# (both kernels forced and compared bit for bit), memcheck / racecheck quick, bench_estimate against
# c89490c alternated three times, ncu kernel times of XAttention at 32K and 128K
mkdir -p /tmp/l && tar xzf .carry/r70/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin OMP_WAIT_POLICY=passive
R=/tmp/r70; mkdir -p $R && tar xzf .carry/r70/bins.tgz -C $R
NCU="ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel"
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $R/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(|note| s$" | head -20
for t in memcheck racecheck; do echo "== $t test_estimate_cuda quick"; timeout 200 compute-sanitizer --tool $t --error-exitcode 9 $R/test_estimate_cuda quick 2>&1 | tail -2; done
for i in 1 2 3; do
echo "== bench_estimate new ($i)"; $R/bench_estimate --lengths 32768,131072 --repeats 3 2>&1 | tail -9
echo "== bench_estimate prev c89490c ($i)"; $R/bench_prev --lengths 32768,131072 --repeats 3 2>&1 | tail -9
done
for n in 32768 131072; do echo "== ncu xattention $n"; $NCU -k regex:"block_sums" $R/bench_estimate --lengths $n --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration" | sed 's/(const.*) (/ (/'; done
} 2>&1 | tee $OUT/r.log
