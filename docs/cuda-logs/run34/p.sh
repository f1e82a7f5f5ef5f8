#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r34/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
R=.carry/r34
M=sm__inst_executed.sum,sm__inst_executed_pipe_fp64.sum,sm__inst_executed_pipe_fp64.avg.pct_of_peak_sustained_active,sm__pipe_fp64_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_xu.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_alu.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_fma.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_lsu.avg.pct_of_peak_sustained_active,sm__cycles_elapsed.avg.per_second,gpu__time_duration.sum
for m in xattention minference; do
ncu --clock-control none --metrics $M -k "regex:row_stats|vertical_slash|block_sums|xattention_select" --launch-skip 2 --launch-count 2 $R/bench_estimate --lengths 32768 --repeats 1 --method $m 2>&1 | grep -vE "^==PROF==|^    ---|^ *$|tokens" | sed 's/(const.*) (/ (/'
done 2>&1 | tee $OUT/p.log
cuobjdump -sass $R/bench_estimate 2>/dev/null | awk '/Function : .*vertical_slash_sums/,/EXIT/' | grep -oE "^\s+/\*[0-9a-f]+\*/\s+[A-Z0-9_.@!P ]+" | awk '{print $2}' | sed 's/\..*//' | sort | uniq -c | sort -rn | head -25
