#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r51/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin OMP_WAIT_POLICY=passive
R=/tmp/r51; mkdir -p $R && tar xzf .carry/r51/bins.tgz -C $R
{
cat /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag; ldd --version | head -1
for L in 32768 131072; do
for t in "" "glibc.malloc.hugetlb=1" "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967295" "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967295:glibc.malloc.arena_max=1"; do
  echo "== $L GLIBC_TUNABLES=$t"; GLIBC_TUNABLES=$t XA_TRACE=1 $R/bench_estimate --lengths $L --method xattention --repeats 3 2>&1 | grep -E "est .* plans|^ +[0-9]+ xatt" | tail -4
done; done
} 2>&1 | tee $OUT/r.log
