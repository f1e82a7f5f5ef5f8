#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r51/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin
R=/tmp/r51; mkdir -p $R && tar xzf .carry/r51/bins.tgz -C $R
{
for pol in passive active; do
  echo "== 32K OMP_WAIT_POLICY=$pol"; OMP_WAIT_POLICY=$pol XA_TRACE=1 $R/bench_estimate --lengths 32768 --method xattention --repeats 5 2>&1 | tail -12
done
echo "== 128K passive"; OMP_WAIT_POLICY=passive XA_TRACE=1 $R/bench_estimate --lengths 131072 --method xattention --repeats 3 2>&1 | tail -10
nproc
} 2>&1 | tee $OUT/r.log
