#!/usr/bin/env bash
# tests/cuda/run.sh — the GPU tests (`make test-cuda`): first, on any machine, the host half of the
# masked kernel's plan conversion (test_plan_host: CPU only, no GPU needed); then the attention
# kernels against float64 references (build-cuda/cuda/test_attention_{masked,decode}_cuda), the
# element-wise kernels against the CPU ops (test_ops_cuda), the dynamic methods' GPU mask estimation
# against float64 and the CPU methods (test_estimate_cuda), the whole model against the CPU forward
# (test_model_cuda), the masked kernels' quick set again on the wgmma tile shapes the defaults leave
# out for dense and sink + window plans (DAM_CUDA_WGMMA_WG=1 and =3), the same under compute-sanitizer
# memcheck + racecheck (quick subsets) when it
# is installed, and `dam run --device cuda` on a small config checked for the results layout; the
# three deliberately broken attention kernels (make cuda-fault) must fail their test. Without an
# NVIDIA GPU the script prints one "skip:" line per GPU test (CI has no GPU). Exit status: 1 if any
# test failed.
set -u
cd "$(dirname "$0")/../.."
B=${BUILD:-build-cuda}
TESTS=("$B/cuda/test_attention_masked_cuda" "$B/cuda/test_attention_decode_cuda" "$B/tests/cuda/test_ops_cuda"
       "$B/tests/cuda/test_estimate_cuda" "$B/tests/cuda/test_model_cuda")
# the host half of the plan conversion needs no GPU: it runs first, on every machine
failed=0
echo "== $B/tests/cuda/test_plan_host"
if ! "$B/tests/cuda/test_plan_host"; then echo "FAILED: $B/tests/cuda/test_plan_host"; failed=1; fi
if ! nvidia-smi -L >/dev/null 2>&1; then
    for t in "${TESTS[@]}" "test_attention_masked_cuda quick with DAM_CUDA_WGMMA_WG=1 and =3" \
             test_attention_masked_cuda_fault1 test_attention_masked_cuda_fault2 test_attention_masked_cuda_fault3 \
             "compute-sanitizer memcheck + racecheck" "dam run --device cuda (2 runs)"; do
        echo "skip: $(basename "$t"): no NVIDIA GPU on this machine"
    done
    echo "test-cuda: GPU part skipped (${#TESTS[@]} test programs, 2 runs on other tile shapes, 3 broken-kernel builds, the sanitizer runs and 2 dam runs need a GPU; docs/cuda.md)"
    exit $failed
fi
nvidia-smi -L
for t in "${TESTS[@]}"; do
    echo "== $t"
    if ! "$t"; then echo "FAILED: $t"; failed=1; fi
done
for wg in 1 3; do  # the wgmma kernel's tile shapes the defaults leave out for dense and sink + window plans
    echo "== DAM_CUDA_WGMMA_WG=$wg $B/cuda/test_attention_masked_cuda quick"
    if ! DAM_CUDA_WGMMA_WG=$wg "$B/cuda/test_attention_masked_cuda" quick; then echo "FAILED: DAM_CUDA_WGMMA_WG=$wg test_attention_masked_cuda quick"; failed=1; fi
done
for f in 1 2 3; do # deliberately broken kernels (causal mask off by one; last listed tile skipped; the wgmma
                   # kernel's causal mask off by one): must fail
    t="$B/cuda/test_attention_masked_cuda_fault$f"
    echo "== $t (must fail)"
    if "$t" >/dev/null 2>&1; then echo "FAILED: $t passed: the test cannot see that kernel bug"; failed=1; else echo "failed, as it must"; fi
done
if command -v compute-sanitizer >/dev/null; then
    # "quick" = small cases, and no forked argument checks (children of an instrumented process
    # hang or fail under the tool: runs 10 and 11); the plain runs above check those
    for run in "memcheck $B/cuda/test_attention_masked_cuda quick" "memcheck $B/cuda/test_attention_decode_cuda quick" \
               "memcheck $B/tests/cuda/test_ops_cuda" "memcheck $B/tests/cuda/test_estimate_cuda quick" \
               "racecheck $B/cuda/test_attention_masked_cuda quick" "racecheck $B/cuda/test_attention_decode_cuda quick" \
               "racecheck $B/tests/cuda/test_ops_cuda" "racecheck $B/tests/cuda/test_estimate_cuda quick"; do
        set -- $run
        tool=$1; shift
        echo "== compute-sanitizer --tool $tool $*"
        out=$(timeout 300 compute-sanitizer --tool "$tool" --error-exitcode 9 "$@" 2>&1)
        rc=$?
        echo "$out" | tail -n 2
        [ $rc -eq 0 ] || { echo "FAILED: $tool $* (rc $rc)"; failed=1; }
    done
else
    echo "skip: compute-sanitizer not installed"
fi
echo "== dam run --device cuda (passkey 1K, full + streaming + dam)"
tmp=$(mktemp -d)
if "$B/dam" run --device cuda -o "$tmp/gpu.h5" --progress none \
        --set 'workloads=[{"task":"passkey","lengths":[1024],"depths":[0.5],"samples":1,"max_new_tokens":10}]' \
        >"$tmp/log" 2>&1 && "$B/dam" inspect "$tmp/gpu.h5" | grep -q "device cuda: "; then
    grep -E "passkey|device" "$tmp/log" | head -n 5
else
    echo "FAILED: dam run --device cuda"; tail -n 5 "$tmp/log"; failed=1
fi
echo "== dam run --device cuda (passkey 1K, dynamic methods: minference, xattention, flexprefill, dam_online)"
if "$B/dam" run --device cuda -o "$tmp/dyn.h5" --progress none \
        --set 'workloads=[{"task":"passkey","lengths":[1024],"depths":[0.5],"samples":1,"max_new_tokens":10}]' \
        --set 'methods=[{"method":"full"},{"method":"minference"},{"method":"xattention"},{"method":"flexprefill"},{"method":"dam_online"}]' \
        >"$tmp/log" 2>&1; then
    grep -E "^passkey" "$tmp/log" | head -n 6
else
    echo "FAILED: dam run --device cuda (dynamic methods)"; tail -n 5 "$tmp/log"; failed=1
fi
rm -rf "$tmp"
[ $failed -eq 0 ] && echo "test-cuda: all passed" || echo "test-cuda: FAILED"
exit $failed
