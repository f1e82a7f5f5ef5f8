#!/bin/bash
source scripts/cuda-device-env.sh
cp .carry/gpu-m1/dam_old build-cuda/dam_old
ls -la build-cuda/dam build-cuda/dam_old > $OUT/c2.log 2>&1
