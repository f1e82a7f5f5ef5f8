#!/bin/bash
# run 67, call 5: 1M-token prefill, DAM and full attention (timing only); the dynamic methods at
# 32K / 128K once (c89490c)
source scripts/cuda-device-env.sh
B=build-cuda
{
echo "== E2E dam 1M"; $B/dam bench --device cuda --method dam --lengths 1048576 --chunk 1048576 --warmup 0 --repeats 1 2>&1 | tail -3
echo "== E2E dynamic 32K 128K"; $B/dam bench --device cuda --method full --method minference --method xattention --method flexprefill --method dam_online --lengths 32768,131072 --chunk 1048576 --warmup 1 --repeats 1 2>&1 | tail -12
echo "== E2E full 1M"; /usr/bin/time -f "%e s" $B/dam bench --device cuda --method full --lengths 1048576 --chunk 1048576 --warmup 0 --repeats 1 2>&1 | tail -3
} 2>&1 | tee $OUT/c5.log
