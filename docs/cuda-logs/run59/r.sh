#!/bin/bash
# run 59: 64 x 64 wgmma tiles for sparse block plans (block_fine): benches, then Flex on the same layouts
mkdir -p /tmp/l && tar xzf .carry/r59/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin OMP_WAIT_POLICY=passive
R=/tmp/r59; mkdir -p $R && tar xzf .carry/r59/bins.tgz -C $R
{
echo "== fault3 quick (must fail)"; $R/test_attention_masked_cuda_fault3 quick >/dev/null 2>&1 && echo "PASSED (bad)" || echo "failed, as it must"
echo "== test quick"; $R/test_attention_masked_cuda quick 2>&1 | tail -3
echo "== bench 16K default"; $R/bench_attention_masked_cuda 16384 2>&1 | grep -vE "DAM-like,"
echo "== bench 16K WG=1 (64x64 tiles for dense and window)"; DAM_CUDA_WGMMA_WG=1 DAM_BENCH_DENSE_ONLY=0 $R/bench_attention_masked_cuda 16384 2>&1 | grep -E "dense causal \(dense|window"
echo "== bench 16K WG=2"; DAM_CUDA_WGMMA_WG=2 $R/bench_attention_masked_cuda 16384 2>&1 | grep -E "dense causal \(dense|window"
echo "== bench 64K blocks"; $R/bench_attention_masked_cuda 65536 2>&1 | grep -E "dense causal \(dense|blocks"
echo "== bench d128 16K"; $R/bench_attention_masked_cuda -s 32 8 128 16384 2>&1 | grep -E "dense causal \(dense|blocks|window"
echo "== peers smollm2 16K block 64"; timeout 300 python3 scripts/peers_attention.py --shape smollm2 --n 16384 --block 64 2>&1 | grep -vE "Warning|warn\(" | tail -14
} 2>&1 | tee $OUT/r.log
