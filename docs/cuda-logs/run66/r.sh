#!/bin/bash
# run 66: why the estimates' float64 kernels are slow (ncu sections: speed of light, occupancy, warp
# states, scheduler, memory) at 32K: xattention_block_sums (chunk 4 of 4) and minference's row_stats /
# vertical_slash_sums; c89490c's code (run 65's binary, the XA_ROWS knob unset)
mkdir -p /tmp/l && tar xzf .carry/r65/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin OMP_WAIT_POLICY=passive
R=/tmp/r65; mkdir -p $R && tar xzf .carry/r65/bins.tgz -C $R
S="--section SpeedOfLight --section Occupancy --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis --section LaunchStats"
{
echo "== block_sums, chunk 4"; ncu --clock-control none $S -k regex:block_sums --launch-skip 3 --launch-count 1 $R/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -vE "^==PROF==|^    ---|^ *$|tokens|^   32768"
echo "== block_sums, chunk 1"; ncu --clock-control none --section SpeedOfLight --section WarpStateStats -k regex:block_sums --launch-skip 0 --launch-count 1 $R/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -vE "^==PROF==|^    ---|^ *$|tokens|^   32768"
echo "== minference"; ncu --clock-control none $S -k regex:"row_stats|vertical_slash" --launch-count 2 $R/bench_estimate --lengths 32768 --repeats 1 --method minference 2>&1 | grep -vE "^==PROF==|^    ---|^ *$|tokens|^   32768"
} 2>&1 | tee $OUT/r.log
