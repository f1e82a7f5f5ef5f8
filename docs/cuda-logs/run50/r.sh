#!/bin/bash
mkdir -p /tmp/l && tar xzf .carry/r50/libs.tgz -C /tmp/l; export LD_LIBRARY_PATH=/tmp/l:/usr/local/cuda/lib64
export PATH=$PATH:/usr/local/cuda/bin OMP_WAIT_POLICY=passive
R=/tmp/r50; mkdir -p $R && tar xzf .carry/r50/bins.tgz -C $R
NCU="ncu --clock-control none --kernel-name regex:xattention|strided --metrics gpu__time_duration.sum --print-summary per-kernel"
{
echo "== test_estimate_cuda (variant 0)"; /usr/bin/time -f "%e s" $R/test_estimate_cuda 2>&1 | grep -vE "^  (xattention scores|flexprefill covers)" | tail -6
for v in 1 2 3 4 5 6; do echo "== test_estimate_cuda quick, variant $v"; XA_VARIANT=$v $R/test_estimate_cuda quick 2>&1 | tail -1; done
echo "== memcheck quick"; compute-sanitizer --tool memcheck $R/test_estimate_cuda quick 2>&1 | tail -2
echo "== racecheck quick"; compute-sanitizer --tool racecheck $R/test_estimate_cuda quick 2>&1 | tail -2
for i in 1 2; do
  for v in 0 1 2 3 4 5 6; do echo "== bench 32K variant $v ($i)"; XA_VARIANT=$v $R/bench_estimate --lengths 32768 --method xattention --repeats 5 2>&1 | tail -1; done
  echo "== bench 32K old ($i)"; $R/bench_old --lengths 32768 --method xattention --repeats 5 2>&1 | tail -1
done
for v in 0 1 2 6; do echo "== ncu variant $v"; XA_VARIANT=$v $NCU $R/bench_estimate --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration" | sed 's/(const.*) (/ (/'; done
echo "== ncu old"; $NCU $R/bench_old --lengths 32768 --repeats 1 --method xattention 2>&1 | grep -E "^  [^ ]|duration" | sed 's/(const.*) (/ (/'
for i in 1 2; do
  echo "== bench 128K variant 0 ($i)"; $R/bench_estimate --lengths 131072 --method xattention --repeats 3 2>&1 | tail -1
  echo "== bench 128K variant 1 ($i)"; XA_VARIANT=1 $R/bench_estimate --lengths 131072 --method xattention --repeats 3 2>&1 | tail -1
  echo "== bench 128K old ($i)"; $R/bench_old --lengths 131072 --method xattention --repeats 3 2>&1 | tail -1
done
} 2>&1 | tee $OUT/r.log
