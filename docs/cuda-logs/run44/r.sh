#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r44/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin
R=/tmp/r44; mkdir -p $R && tar xzf .carry/r44/bins.tgz -C $R
{
echo "== test_attention_masked_cuda (full)"; /usr/bin/time -f "%e s" $R/test_attention_masked_cuda 2>&1 | grep -E 'FAIL|fail|kernel runs|ok \(| s$' | head -30
echo "== memcheck quick"; compute-sanitizer --tool memcheck $R/test_attention_masked_cuda quick 2>&1 | tail -3
echo "== racecheck quick"; compute-sanitizer --tool racecheck $R/test_attention_masked_cuda quick 2>&1 | tail -2
for i in 1 2; do
echo "== bench_estimate new $i"; $R/bench_estimate --lengths 32768,131072 2>&1 | tail -9
echo "== bench_estimate prev (afade14) $i"; $R/bench_prev --lengths 32768,131072 --method xattention 2>&1 | tail -2
done
echo "== dense new"; DAM_BENCH_DENSE_ONLY=1 $R/bench_attention_masked_cuda 16384 65536 2>&1 | tail -8
echo "== dense prev"; DAM_BENCH_DENSE_ONLY=1 $R/bench_am_prev 16384 65536 2>&1 | tail -8
} 2>&1 | tee $OUT/r.log
