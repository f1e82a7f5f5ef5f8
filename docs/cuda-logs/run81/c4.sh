#!/bin/bash
# run 81, call 4 (model part 3, assembled): test_model_cuda (the pool under the whole model); main's
# binary (dam_prev, 1c5b487) against plan-batch's: the same results (passkey 1K and 4K with full,
# streaming, dam: every column of `dam inspect` but the timings and the peak), then full vs DAM end to
# end alternated (run 80 c4, before the fixes: DAM 8K 24.8 / 20.3 ms vs full 22.1 / 19.3, mask 6.2 / 5.1),
# and the dynamic methods at 32K once per binary (mask_ms: estimation + plan builds)
source scripts/cuda-device-env.sh
B=build-cuda
P=build-cuda/dam_prev
[ -x $P ] || { gunzip -c .carry/gpu/dam_prev.gz >$P && chmod +x $P; }
tmp=$(mktemp -d)
{
echo "== test_model_cuda"; /usr/bin/time -f "%e s" $B/tests/cuda/test_model_cuda 2>&1 | tail -6
for bin in $P $B/dam; do
  echo "== $bin: dam run --device cuda (passkey 1K + 4K, 2 samples, full + streaming + dam)"
  $bin run --device cuda -o "$tmp/$(basename $bin).h5" --progress none \
    --set 'workloads=[{"task":"passkey","lengths":[1024,4096],"depths":[0.5],"samples":2,"max_new_tokens":10}]' >"$tmp/log" 2>&1; echo "rc $?"
  $bin inspect "$tmp/$(basename $bin).h5" | tail -7 | tee /dev/stderr | awk '{print $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12}' >"$tmp/$(basename $bin).txt"
done
echo "== result lines that differ (timings and peak left out):"; diff "$tmp/dam_prev.txt" "$tmp/dam.txt" && echo none
for i in 1 2; do for bin in $P $B/dam; do
  echo "== $bin bench ($i)"; $bin bench --device cuda --method full --method dam --lengths 4096,8192,16384,32768,131072 --chunk 1048576 --warmup 1 --repeats 5 2>&1 | tail -10
done; done
for bin in $P $B/dam; do
  echo "== $bin bench dynamic 32K"; $bin bench --device cuda --method minference --method xattention --method dam_online --lengths 32768 --chunk 1048576 --warmup 1 --repeats 5 2>&1 | tail -3
done
} 2>&1 | tee $OUT/c4.log
