#!/bin/bash
# run 85, call 2 (.carry/gpu, main + a three-stage K/V ring at d = 128: 102 KB of shared memory, two
# CTAs per SM, so the default splits (2 per SM) run in one wave; main's bench binary gzipped as
# .carry/gpu/bench_decode_prev.gz): test_attention_decode_cuda full and quick under memcheck /
# racecheck, the decode bench alternated with main's twice
source scripts/cuda-device-env.sh
B=build-cuda/cuda
P=/tmp/dam-gpu/bench_decode_prev
rm -f $P; gunzip -c .carry/gpu/bench_decode_prev.gz >$P && chmod +x $P
{
echo "== test_attention_decode_cuda (full)"; /usr/bin/time -f "%e s" $B/test_attention_decode_cuda 2>&1 | tail -2
for t in memcheck racecheck; do echo "== $t quick"; timeout 200 compute-sanitizer --tool $t --error-exitcode 9 $B/test_attention_decode_cuda quick 2>&1 | tail -2; done
for i in 1 2; do
echo "== bench new ($i)"; $B/bench_attention_decode_cuda 32768 65536 131072 262144 2>&1 | tail -10
echo "== bench main ($i)"; $P 32768 65536 131072 262144 2>&1 | tail -9
done
} 2>&1 | tee $OUT/c2.log
