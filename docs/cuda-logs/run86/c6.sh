#!/bin/bash
# run 86, call 6 (.carry/gpu; the session's last device minutes): the block sums back to two passes
# over each logit row (c3-c5's single read was no faster at 32K and ~4 % slower at 128K), the warp
# select only for sorts of <= 512 entries (n <= 32,896; at 64K its 1,024-entry variant held one CTA per
# SM). test_estimate_cuda full; bench_estimate xattention 16K-128K alternated with 723f1bb's binary twice
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
gunzip -c .carry/gpu/bench_estimate_prev.gz > /tmp/bench_prev && chmod +x /tmp/bench_prev
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda > /tmp/t.log 2>&1; echo "rc $?"; grep -E "FAIL|fail|ok \(" /tmp/t.log | head -20; tail -1 /tmp/t.log
for i in 1 2; do
echo "== bench new ($i)"; $B/bench_estimate --method xattention --lengths 16384,32768,65536,131072 --repeats 9 2>&1 | tail -8
echo "== bench prev ($i)"; /tmp/bench_prev --method xattention --lengths 16384,32768,65536,131072 --repeats 9 2>&1 | tail -8
done
} 2>&1 | tee $OUT/c6.log
