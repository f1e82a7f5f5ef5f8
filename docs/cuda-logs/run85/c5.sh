#!/bin/bash
# run 85, call 5 (.carry/gpu; a8bad17's bench binary as bench_decode_prev.gz): the decode split merge
# with its reads issued together — (max, sum) of every split in one 8-byte read in phase A (phase B
# then reads only shared memory; before, each warp read the sums after computing the weights), and
# phase C with 16 reads in flight per thread (before: 4) — against the ~8 us chain per call (c4).
# test_attention_decode_cuda full, quick under memcheck and racecheck; the bench at 1K-256K alternated
# with a8bad17's twice
source scripts/cuda-device-env.sh
B=build-cuda/cuda
P=/tmp/dam-gpu/bench_decode_prev
rm -f $P; gunzip -c .carry/gpu/bench_decode_prev.gz >$P && chmod +x $P
{
echo "== test_attention_decode_cuda (full)"; /usr/bin/time -f "%e s" $B/test_attention_decode_cuda 2>&1 | tail -2
for t in memcheck racecheck; do echo "== $t quick"; timeout 200 compute-sanitizer --tool $t --error-exitcode 9 $B/test_attention_decode_cuda quick 2>&1 | tail -2; done
for i in 1 2; do
echo "== bench new ($i)"; $B/bench_attention_decode_cuda 1024 4096 32768 65536 131072 262144 2>&1 | tail -13
echo "== bench a8bad17 ($i)"; $P 1024 4096 32768 65536 131072 262144 2>&1 | tail -12
done
} 2>&1 | tee $OUT/c5.log
