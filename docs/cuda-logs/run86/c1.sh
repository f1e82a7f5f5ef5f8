#!/bin/bash
# run 86, call 1 (.carry/gpu): XAttention's select with one warp per query block (register bitonic
# sort) for sorts of <= 1,024 entries, no score memset before the warp block sums when no scores are
# asked for, DAM_CUDA_XA_CHUNK_ROWS (bench / test knob). test_estimate_cuda full (new variants: both
# selects, other row chunks) and quick under memcheck / racecheck; bench_estimate xattention alternated
# with 723f1bb's binary (bench_estimate_prev.gz) twice; row chunks 256 / 512 / 2048; ncu per kernel at 32K
source scripts/cuda-device-env.sh
B=build-cuda/tests/cuda
gunzip -c .carry/gpu/bench_estimate_prev.gz > /tmp/bench_prev && chmod +x /tmp/bench_prev
NCU="ncu --clock-control none --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sector_hit_rate.pct,sm__pipe_fp64_cycles_active.avg.pct_of_peak_sustained_active,sm__warps_active.avg.pct_of_peak_sustained_active --print-summary per-kernel"
{
echo "== test_estimate_cuda (full)"; /usr/bin/time -f "%e s" $B/test_estimate_cuda 2>&1 | grep -E "FAIL|fail|ok \(| s$" | head -20
echo "== memcheck quick"; timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2
echo "== racecheck quick"; timeout 200 compute-sanitizer --tool racecheck --error-exitcode 9 $B/test_estimate_cuda quick 2>&1 | tail -2
for i in 1 2; do
echo "== bench new ($i)"; $B/bench_estimate --method xattention --lengths 32768,131072 --repeats 7 2>&1 | tail -4
echo "== bench prev ($i)"; /tmp/bench_prev --method xattention --lengths 32768,131072 --repeats 7 2>&1 | tail -4
done
for R in 256 512 2048; do
echo "== bench new DAM_CUDA_XA_CHUNK_ROWS=$R"; DAM_CUDA_XA_CHUNK_ROWS=$R $B/bench_estimate --method xattention --lengths 32768,131072 --repeats 7 2>&1 | tail -4
done
echo "== bench all methods 32K"; $B/bench_estimate --lengths 32768 --repeats 7 2>&1 | tail -6
echo "== ncu new 32768"; $NCU -k regex:"xattention|strided|nvjet|gemm" $B/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration|bytes|rate|pct" | cut -c1-150
echo "== ncu new 32768 CHUNK_ROWS=256"; DAM_CUDA_XA_CHUNK_ROWS=256 $NCU -k regex:"xattention|strided|nvjet|gemm" $B/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration|bytes|rate|pct" | cut -c1-150
} 2>&1 | tee $OUT/c1.log
