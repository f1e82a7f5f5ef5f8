#!/bin/bash
# run 63: the list kernel's products on wgmma (d = 64): tests, broken builds, sanitizers, bench vs mma.sync
mkdir -p /tmp/l && tar xzf .carry/r63/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin
R=/tmp/r63; mkdir -p $R && tar xzf .carry/r63/bins.tgz -C $R
{
for f in 1 2 3; do echo "== fault$f quick (must fail)"; $R/test_attention_masked_cuda_fault$f quick >/dev/null 2>&1 && echo "PASSED (bad)" || echo "failed, as it must"; done
echo "== test quick"; $R/test_attention_masked_cuda quick 2>&1 | tail -2
echo "== memcheck quick"; timeout 100 compute-sanitizer --tool memcheck --error-exitcode 9 $R/test_attention_masked_cuda quick 2>&1 | tail -2
for m in 0 1; do echo "== bench d64 16K 64K, DAM_CUDA_LIST_MMA=$m"; DAM_CUDA_LIST_MMA=$m $R/bench_attention_masked_cuda 16384 65536 2>&1 | grep -E "list path|DAM-like|window.*lists|blocks.*lists"; done
echo "== test full"; /usr/bin/time -f "%e s" $R/test_attention_masked_cuda 2>&1 | grep -E 'FAIL|fail|kernel runs|ok \(| s$' | head -30
} 2>&1 | tee $OUT/r.log
