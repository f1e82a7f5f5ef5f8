#!/bin/bash
# run 80, call 4 (model part 3, assembled): main's binary (dam_prev) against plan-batch's: the same
# results (passkey 1K and 4K with full, streaming, dam: scores, NLL, density, alignment), then full vs
# DAM end to end alternated (run 77: DAM 24.7 / 20.1 ms at 8K, mask 8.1 / 5.9; full 20.2 / 17.8)
source scripts/cuda-device-env.sh
B=build-cuda
P=build-cuda/dam_prev
[ -x $P ] || { gunzip -c .carry/gpu/dam_prev.gz >$P && chmod +x $P; }
tmp=$(mktemp -d)
{
for bin in $P $B/dam; do
  echo "== $bin: dam run --device cuda (passkey 1K + 4K, 2 samples, full + streaming + dam)"
  $bin run --device cuda -o "$tmp/$(basename $bin).h5" --progress none \
    --set 'workloads=[{"task":"passkey","lengths":[1024,4096],"depths":[0.5],"samples":2,"max_new_tokens":10}]' >"$tmp/log" 2>&1; echo "rc $?"
  $bin inspect "$tmp/$(basename $bin).h5" | head -16
  # every per-example field but the timings (prefill, mask, decode ms: fields 14-16) and peak bytes (18)
  $bin inspect "$tmp/$(basename $bin).h5" --csv | cut -d, -f1-13,17,19- >"$tmp/$(basename $bin).txt"
done
echo "== results differ (lines):"; diff "$tmp/dam_prev.txt" "$tmp/dam.txt" | wc -l
for i in 1 2; do for bin in $P $B/dam; do
  echo "== $bin bench ($i)"; $bin bench --device cuda --method full --method dam --lengths 4096,8192,16384,32768,131072 --chunk 1048576 --warmup 1 --repeats 5 2>&1 | tail -10
done; done
} 2>&1 | tee $OUT/c4.log
