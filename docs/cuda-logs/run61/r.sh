#!/bin/bash
# run 61: more tile shapes at d = 64 (experiment): DAM_CUDA_WGMMA_WG=4 (64 rows x 128 keys, 3 CTAs per SM),
# 5 (128 rows x 64 keys, 2 per SM) against 1 (64 x 64, the default)
mkdir -p /tmp/l && tar xzf .carry/r61/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
R=/tmp/r61; mkdir -p $R && tar xzf .carry/r61/bins.tgz -C $R
{
for rep in 1 2; do for wg in 1 4 5; do
echo "== d64 WG=$wg (rep $rep)"; DAM_CUDA_WGMMA_WG=$wg $R/bench_attention_masked_cuda 16384 2>&1 | grep -E "dense causal \(dense|window.*wgmma|blocks.*%.*density"
DAM_CUDA_WGMMA_WG=$wg DAM_BENCH_DENSE_ONLY=1 $R/bench_attention_masked_cuda 4096 65536 2>&1 | grep -E "dense causal \(dense"
done; done
} 2>&1 | tee $OUT/r.log
