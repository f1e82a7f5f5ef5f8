#!/bin/bash
# run 64: the estimates' table-driven float64 exp (est::exp_f64): its test, then bench_estimate against
# c89490c's binary (libdevice exp) alternated; then the checks runs 59-63 left for the commits after
# run 63 (test_attention_masked_cuda full, the quick set on the other tile shapes)
mkdir -p /tmp/l && tar xzf .carry/r64/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin OMP_WAIT_POLICY=passive
R=/tmp/r64; mkdir -p $R && tar xzf .carry/r64/bins.tgz -C $R
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $R/test_estimate_cuda 2>&1 | grep -E "exp_f64|FAIL|fail|ok|note| s$" | head -20
for i in 1 2; do
echo "== bench_estimate new ($i)"; $R/bench_estimate --lengths 32768,131072 --repeats 3 2>&1 | tail -9
echo "== bench_estimate prev c89490c ($i)"; $R/bench_prev --lengths 32768,131072 --repeats 3 2>&1 | tail -9
done
echo "== test_attention_masked_cuda (full)"; /usr/bin/time -f "%e s" $R/test_attention_masked_cuda 2>&1 | grep -E 'FAIL|fail|kernel runs|ok \(| s$' | head -30
for wg in 1 3; do echo "== WG=$wg quick"; DAM_CUDA_WGMMA_WG=$wg $R/test_attention_masked_cuda quick 2>&1 | tail -1; done
echo "== memcheck test_estimate_cuda quick"; timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 $R/test_estimate_cuda quick 2>&1 | tail -2
} 2>&1 | tee $OUT/r.log
