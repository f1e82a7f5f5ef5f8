#!/bin/bash
# run 78, call 4 (model part 3, assembled): end to end, full vs minference (and dam), the new binary
# against the previous one (3580980) alternated twice
source scripts/cuda-device-env.sh
P=build-cuda/dam_prev
[ -x $P ] || { gunzip -c .carry/gpu/dam_prev.gz >$P && chmod +x $P; }
tmp=$(mktemp -d)
{
for bin in $P build-cuda/dam; do # the same results from both (every field but the timings and peak bytes)
  echo "== $bin: dam run --device cuda (passkey 4K + 16K, 2 samples, minference)"
  $bin run --device cuda -o "$tmp/$(basename $bin).h5" --progress none --set 'methods=[{"method":"minference"}]' \
    --set 'workloads=[{"task":"passkey","lengths":[4096,16384],"depths":[0.5],"samples":2,"max_new_tokens":10}]' >"$tmp/log" 2>&1; echo "rc $?"
  $bin inspect "$tmp/$(basename $bin).h5" | sed -n 4,8p
  $bin inspect "$tmp/$(basename $bin).h5" --csv | cut -d, -f1-13,17,19- >"$tmp/$(basename $bin).txt"
done
echo "== results differ (lines):"; diff "$tmp/dam_prev.txt" "$tmp/dam.txt" | head -6
for i in 1 2; do for bin in $P build-cuda/dam; do
  echo "== $bin bench ($i)"; $bin bench --device cuda --method full --method minference --method dam --lengths 8192,32768,131072 --chunk 1048576 --warmup 1 --repeats 5 2>&1 | tail -10
done; done
} 2>&1 | tee $OUT/c4.log
