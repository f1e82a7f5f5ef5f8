#!/bin/bash
# run 78, call 4 (model part 3, assembled): end to end, full vs minference (and dam), the new binary
# against the previous one (3580980) alternated twice
source scripts/cuda-device-env.sh
P=build-cuda/dam_prev
[ -x $P ] || { gunzip -c .carry/gpu/dam_prev.gz >$P && chmod +x $P; }
{
for i in 1 2; do for bin in $P build-cuda/dam; do
  echo "== $bin bench ($i)"; $bin bench --device cuda --method full --method minference --method dam --lengths 8192,32768,131072 --chunk 1048576 --warmup 1 --repeats 5 2>&1 | tail -10
done; done
} 2>&1 | tee $OUT/c4.log
