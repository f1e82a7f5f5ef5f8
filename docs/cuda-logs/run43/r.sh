#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r43/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin
R=.carry/r43
{
echo "== test_estimate_cuda (full)"; $R/test_estimate_cuda 2>&1 | grep -E "xattention scores +n +(3000|2113)|ok|FAIL|fail" | head
echo "== test_estimate_cuda (full) DAM_XF_WARPS=4"; DAM_XF_WARPS=4 $R/test_estimate_cuda 2>&1 | tail -1
for i in 1 2; do
for w in 8 4; do
echo "== new W=$w $i"; DAM_XF_WARPS=$w $R/bench_estimate --lengths 32768,131072 --method xattention 2>&1 | tail -2
done
echo "== prev (afade14) $i"; $R/bench_prev --lengths 32768,131072 --method xattention 2>&1 | tail -2
done
for w in 8 4; do
echo "== ncu W=$w"; DAM_XF_WARPS=$w ncu --clock-control none -k regex:xattention_scores -c 1 --section SpeedOfLight --section WarpStateStats --section ComputeWorkloadAnalysis $R/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "Duration|SM Active|Elapsed Cycles|Executed Ipc Active|Warp Cycles Per Issued|Issue Slots|stalled|represents"
done
} 2>&1 | tee $OUT/r.log
