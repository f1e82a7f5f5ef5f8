#!/bin/bash
# cuda-device-check.sh — run on the GPU machine from the repository root, after `make cuda-build
# cuda-fault` (the binaries in build/cuda): the GPU test, the two deliberately broken kernels (each
# must fail), compute-sanitizer memcheck and racecheck on the quick subset, then the benchmark.
# Logs go to $OUT (or /tmp/cuda-check). Exit status: 0 only if the test passed and both faults failed.
# Usage: scripts/cuda-device-check.sh [bench args...]   (e.g. 4096 16384 65536)
set -u
B=${CUDA_BIN:-${BUILD:-build}/cuda}
O=${OUT:-/tmp/cuda-check}
mkdir -p "$O"
status=0
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw --format=csv \
    | tee "$O/gpu.txt"
echo "== test"
t0=$(date +%s.%N)
"$B/test_attention_masked_cuda" >"$O/test.log" 2>&1
rc=$?
t1=$(date +%s.%N)
grep -v '^FAIL' "$O/test.log" | tail -n 3
grep '^FAIL' "$O/test.log" | head -n 5
echo "test rc=$rc ($(grep -c '^FAIL' "$O/test.log") FAIL lines, $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s)"
[ $rc -eq 0 ] || status=1
if [ -n "${TEST_MT2:-}" ]; then  # the d = 64 kernel with two m-tiles per warp
    DAM_CUDA_MT=2 "$B/test_attention_masked_cuda" >"$O/test_mt2.log" 2>&1
    rc=$?
    grep -v '^FAIL' "$O/test_mt2.log" | tail -n 2
    grep '^FAIL' "$O/test_mt2.log" | head -n 5 | cut -c1-300
    echo "test (DAM_CUDA_MT=2) rc=$rc"
    [ $rc -eq 0 ] || status=1
fi
for f in 1 2; do
    "$B/test_attention_masked_cuda_fault$f" >"$O/fault$f.log" 2>&1
    rc=$?
    echo "fault$f: rc=$rc (must be non-zero), $(grep -c '^FAIL' "$O/fault$f.log") FAIL lines; first:"
    grep '^FAIL' "$O/fault$f.log" | head -n 2 | cut -c1-300
    [ $rc -ne 0 ] || status=1
done
if command -v compute-sanitizer >/dev/null; then
    for tool in memcheck racecheck; do
        echo "== compute-sanitizer $tool (quick subset)"
        timeout 120 compute-sanitizer --tool $tool --error-exitcode 9 "$B/test_attention_masked_cuda" quick \
            >"$O/sanitizer_$tool.log" 2>&1
        rc=$?
        tail -n 3 "$O/sanitizer_$tool.log"
        echo "$tool rc=$rc"
        [ $rc -eq 0 ] || status=1
    done
fi
echo "== bench"
"$B/bench_attention_masked_cuda" "$@" 2>&1 | tee "$O/bench.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
if [ -n "${BENCH_MT2:-}" ]; then  # two m-tiles per warp at d = 64
    DAM_CUDA_MT=2 "$B/bench_attention_masked_cuda" $BENCH_MT2 2>&1 | tee "$O/bench_mt2.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi
if [ -n "${BENCH_PACK:-}" ]; then  # the heads of a GQA group packed per CTA (sharing K/V tiles)
    DAM_BENCH_PACK_GQA=1 "$B/bench_attention_masked_cuda" $BENCH_PACK 2>&1 | tee "$O/bench_pack.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi
if [ -n "${BENCH_LLAMA:-}" ]; then  # the Llama-3-8B attention shape of the anchors, too
    "$B/bench_attention_masked_cuda" -s 32 8 128 $BENCH_LLAMA 2>&1 | tee "$O/bench_llama.log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi
nvidia-smi --query-gpu=clocks.sm,temperature.gpu,power.draw --format=csv,noheader
echo "status=$status"
exit $status
