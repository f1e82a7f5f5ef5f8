#!/bin/bash
# run 65: do the estimates' fp32 logits fit in L2? bench_estimate with smaller chunks: heads per chunk
# (DAM_CUDA_EST_CHUNK_BYTES: minference, dam_online) and XAttention's rows per chunk (temporary knob
# DAM_CUDA_XA_ROWS); ncu kernel times at 32K for the default and a small chunk
mkdir -p /tmp/l && tar xzf .carry/r65/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin OMP_WAIT_POLICY=passive
R=/tmp/r65; mkdir -p $R && tar xzf .carry/r65/bins.tgz -C $R
NCU="ncu --clock-control none --metrics gpu__time_duration.sum --print-summary per-kernel"
{
for i in 1 2; do
for b in default 10000000 20000000 35000000; do
  echo "== minference + dam_online, chunk bytes $b ($i)"
  if [ $b = default ]; then $R/bench_estimate --lengths 32768,131072 --method minference --method dam_online --repeats 3 2>&1 | tail -4
  else DAM_CUDA_EST_CHUNK_BYTES=$b $R/bench_estimate --lengths 32768,131072 --method minference --method dam_online --repeats 3 2>&1 | tail -4; fi
done
for r in 1024 512 256 128 64; do
  echo "== xattention, rows $r ($i)"; DAM_CUDA_XA_ROWS=$r $R/bench_estimate --lengths 32768,131072 --method xattention --repeats 3 2>&1 | tail -2
done
done
for r in 1024 256; do echo "== ncu xattention 32K rows $r"; DAM_CUDA_XA_ROWS=$r $NCU $R/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration" | sed 's/(const.*) (/ (/'; done
for b in default 20000000; do echo "== ncu minference 32K chunk bytes $b"; if [ $b != default ]; then export DAM_CUDA_EST_CHUNK_BYTES=$b; fi; $NCU $R/bench_estimate --lengths 32768 --repeats 1 --method minference 2>&1 | grep -E "^  [^ ]|duration" | sed 's/(const.*) (/ (/'; done
} 2>&1 | tee $OUT/r.log
