#!/bin/bash
source scripts/cuda-device-env.sh
B=build-cuda
ls -la models/ build-cuda/dam_old
{
echo "== passkey 1K, dynamic methods (new)"
$B/dam run --device cuda -o /tmp/dyn.h5 --progress none \
  --set 'workloads=[{"task":"passkey","lengths":[1024],"depths":[0.5],"samples":1,"max_new_tokens":10}]' \
  --set 'methods=[{"method":"full"},{"method":"minference"},{"method":"xattention"},{"method":"flexprefill"},{"method":"dam_online"}]' 2>&1 | grep -E '^passkey|rror' | head
M="--method full --method minference --method xattention --method flexprefill --method dam_online"
echo "== E2E 32K new"; $B/dam bench --device cuda $M --lengths 32768 --chunk 1048576 --warmup 1 --repeats 3 2>&1 | tail -7
echo "== E2E 32K old (ffa56ce)"; $B/dam_old bench --device cuda $M --lengths 32768 --chunk 1048576 --warmup 1 --repeats 3 2>&1 | tail -7
echo "== E2E 128K new"; $B/dam bench --device cuda $M --lengths 131072 --chunk 1048576 --warmup 1 --repeats 1 2>&1 | tail -7
echo "== E2E 128K old (ffa56ce)"; $B/dam_old bench --device cuda $M --lengths 131072 --chunk 1048576 --warmup 1 --repeats 1 2>&1 | tail -7
echo "== E2E 128K new (again)"; $B/dam bench --device cuda --method full --method xattention --method flexprefill --lengths 131072 --chunk 1048576 --warmup 1 --repeats 1 2>&1 | tail -5
} 2>&1 | tee $OUT/c4.log
