#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r41/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin
R=.carry/r41
{
echo "== test_estimate_cuda (full)"; $R/test_estimate_cuda 2>&1 | tail -1
echo "== test_estimate_cuda (full) DAM_XF_WARPS=4"; DAM_XF_WARPS=4 $R/test_estimate_cuda 2>&1 | tail -1
for w in 8 4; do
echo "== new W=$w"; DAM_XF_WARPS=$w $R/bench_estimate --lengths 32768,131072 --method xattention 2>&1 | tail -2
done
echo "== prev (afade14)"; $R/bench_prev --lengths 32768 --method xattention 2>&1 | tail -1
for w in 8 4; do
echo "== ncu W=$w"; DAM_XF_WARPS=$w ncu --clock-control none -k regex:xattention_scores -c 1 --section SpeedOfLight --section WarpStateStats --section Occupancy --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis $R/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -vE "^==PROF==|^    -+ |^$" | head -150
done
} 2>&1 | tee $OUT/r.log
