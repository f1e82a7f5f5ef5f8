#!/bin/bash
# run as one inline device command right after c4 (the machine still warm, the model assembled)
source scripts/cuda-device-env.sh; cp /tmp/dam-gpu/dam_old build-cuda/dam_old; ls models/; B=build-cuda
{ echo "== E2E 32K old (ffa56ce)"; $B/dam_old bench --device cuda --method full --method xattention --method flexprefill --lengths 32768 --chunk 1048576 --warmup 1 --repeats 3 2>&1 | tail -4
  echo "== E2E 32K new (again)"; $B/dam bench --device cuda --method full --method xattention --method flexprefill --lengths 32768 --chunk 1048576 --warmup 1 --repeats 3 2>&1 | tail -4
  echo "== E2E 128K old (ffa56ce)"; $B/dam_old bench --device cuda --method full --method xattention --method flexprefill --lengths 131072 --chunk 1048576 --warmup 1 --repeats 1 2>&1 | tail -4
  echo "== E2E 128K new (again)"; $B/dam bench --device cuda --method full --method xattention --method flexprefill --lengths 131072 --chunk 1048576 --warmup 1 --repeats 1 2>&1 | tail -4; } 2>&1 | tee $OUT/c5.log
