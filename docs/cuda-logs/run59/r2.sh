#!/bin/bash
# run 59, call 2: dense and sink + window on 64 x 64 tiles (DAM_CUDA_WGMMA_WG=1) against the default
mkdir -p /tmp/l && tar xzf .carry/r59/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin OMP_WAIT_POLICY=passive
R=/tmp/r59; mkdir -p $R && tar xzf .carry/r59/bins.tgz -C $R
{
for rep in 1 2; do
for wg in 3 1; do echo "== d64 dense WG=$wg (rep $rep)"; DAM_CUDA_WGMMA_WG=$wg DAM_BENCH_DENSE_ONLY=1 $R/bench_attention_masked_cuda 4096 16384 65536 2>&1 | grep "dense path"; done
for wg in 2 1; do echo "== d128 dense WG=$wg (rep $rep)"; DAM_CUDA_WGMMA_WG=$wg DAM_BENCH_DENSE_ONLY=1 $R/bench_attention_masked_cuda -s 32 8 128 4096 16384 65536 2>&1 | grep "dense path"; done
done
for wg in 3 1; do echo "== d64 64K window WG=$wg"; DAM_CUDA_WGMMA_WG=$wg $R/bench_attention_masked_cuda 65536 2>&1 | grep -E "window.*wgmma"; done
for wg in 2 1; do echo "== d128 16K window WG=$wg"; DAM_CUDA_WGMMA_WG=$wg $R/bench_attention_masked_cuda -s 32 8 128 16384 2>&1 | grep -E "window.*wgmma"; done
} 2>&1 | tee $OUT/r2.log
