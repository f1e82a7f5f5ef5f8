#!/bin/bash
# run 76, call 4 (c1-c3 carried .carry/gpu, gpu-m1, gpu-m2 with `source scripts/cuda-device-env.sh` only;
# this call carries gpu-m3): attn_ctx_prepare builds the static plans of all heads in parallel (run 74:
# 5.7-6.0 ms a prompt serially, bench_plan_build's prepare_ms). DAM vs full at 2K-16K and 32K (run 74: DAM
# mask 11.5 / 12.2 / 15.1 / 24.2 ms at 2K / 4K / 8K / 16K), the test-cuda dam run (passkey 1K, full +
# streaming + dam), DAM at 128K
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== E2E full / dam"; $B/dam bench --device cuda --method full --method dam --lengths 2048,4096,8192,16384,32768 --chunk 1048576 --warmup 1 --repeats 5 2>&1 | tail -11
echo "== E2E dam again"; $B/dam bench --device cuda --method dam --lengths 4096,8192,131072 --chunk 1048576 --warmup 1 --repeats 5 2>&1 | tail -3
echo "== dam run --device cuda (passkey 1K, full + streaming + dam)"
tmp=$(mktemp -d)
$B/dam run --device cuda -o "$tmp/gpu.h5" --progress none \
  --set 'workloads=[{"task":"passkey","lengths":[1024],"depths":[0.5],"samples":1,"max_new_tokens":10}]' >"$tmp/log" 2>&1; echo "rc $?"
grep -E "passkey|device" "$tmp/log" | head -n 6; $B/dam inspect "$tmp/gpu.h5" | grep "device cuda: " | head -2
} 2>&1 | tee $OUT/c4.log
