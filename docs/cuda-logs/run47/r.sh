#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r47/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
R=/tmp/r47; mkdir -p $R && tar xzf .carry/r47/bins.tgz -C $R
{
echo "== ours d64 16K"; $R/bench_attention_masked_cuda 16384 2>&1 | tail -20
echo "== ours d64 64K (blocks)"; $R/bench_attention_masked_cuda 65536 2>&1 | grep -E "dense causal \(dense|blocks"
echo "== peers smollm2 16K"; timeout 400 python3 scripts/peers_attention.py --shape smollm2 --n 16384 --block 128 64 2>&1 | grep -vE "Warning|warn\(" | tail -24
} 2>&1 | tee $OUT/r.log
