#!/bin/bash
# run 63, call 2: racecheck of the quick set
mkdir -p /tmp/l && tar xzf .carry/r63/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin
R=/tmp/r63; mkdir -p $R && tar xzf .carry/r63/bins.tgz -C $R
{ echo "== racecheck quick"; /usr/bin/time -f "%e s" timeout 200 compute-sanitizer --tool racecheck --error-exitcode 9 $R/test_attention_masked_cuda quick 2>&1 | tail -3; } 2>&1 | tee $OUT/r2.log
