#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r29/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
R=.carry/r29
{
echo "== test (full)"; /usr/bin/time -f "%e s" $R/test_attention_masked_cuda 2>&1 | grep -E 'FAIL|kernel runs|ok \(| s$' | head -20
echo "== memcheck quick"; timeout 200 compute-sanitizer --tool memcheck --error-exitcode 9 $R/test_attention_masked_cuda quick 2>&1 | grep -E 'FAIL|ok \(|SUMMARY' | head; echo "rc ${PIPESTATUS[0]}"
echo "== racecheck quick"; timeout 200 compute-sanitizer --tool racecheck --error-exitcode 9 $R/test_attention_masked_cuda quick 2>&1 | grep -E 'FAIL|ok \(|SUMMARY' | head; echo "rc ${PIPESTATUS[0]}"
for f in 1 2 3; do timeout 120 $R/test_attention_masked_cuda_fault$f quick >/tmp/f$f.log 2>&1 && echo "fault$f quick PASSED (bad)" || echo "fault$f quick failed as it must: $(grep -c FAIL /tmp/f$f.log) FAIL lines, e.g. $(grep -m1 'many-cols\|band' /tmp/f$f.log | cut -c1-200)"; done
} 2>&1 | tee $OUT/r.log
