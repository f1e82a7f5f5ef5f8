#!/bin/bash
source scripts/cuda-device-env.sh
ls /tmp/dam-gpu > $OUT/c3.log 2>&1
