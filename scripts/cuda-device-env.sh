# cuda-device-env.sh — sourced on the GPU machine by each device call (bash, repository root):
# unpacks what scripts/cuda-stage-run.sh staged (once), sets the library path (our OpenBLAS, the
# image's cuBLAS), collects model parts carried in .carry/gpu-m1 .. gpu-m3 into /tmp/dam-gpu and,
# once all three are there, assembles models/SmolLM2-135M-Instruct.Q4_1.gguf and checks its sha256.
# Then `build-cuda/dam run --device cuda`, `BUILD=build-cuda tests/cuda/run.sh` etc. can run.
D=/tmp/dam-gpu
mkdir -p $D/libs
[ -f $D/libs/libopenblas.so.0 ] || tar xzf .carry/gpu/libs.tgz -C $D/libs
[ -f .carry/gpu/bin.tgz ] && [ ! -f $D/bin.done ] && tar xzf .carry/gpu/bin.tgz && touch $D/bin.done
export LD_LIBRARY_PATH=$D/libs:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OMP_WAIT_POLICY=passive
for i in 1 2 3; do [ -f .carry/gpu-m$i/part.0$((i - 1)) ] && cp .carry/gpu-m$i/part.0$((i - 1)) $D/; done
m=models/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -f $m ] && [ -f $D/part.00 ] && [ -f $D/part.01 ] && [ -f $D/part.02 ]; then
    mkdir -p models patterns
    cat $D/part.00 $D/part.01 $D/part.02 >$m
    [ "$(sha256sum $m | awk '{print $1}')" = "$(cat $D/model.sha256 2>/dev/null || cat .carry/gpu/model.sha256)" ] \
        || { echo "cuda-device-env: $m: sha256 mismatch"; rm -f $m; }
    [ -d data/pg_essays ] || tar xzf .carry/gpu/data.tgz
    [ -f patterns/smollm2-135m.h5 ] || [ ! -f .carry/gpu/patterns.h5 ] || cp .carry/gpu/patterns.h5 patterns/smollm2-135m.h5
fi
[ -f .carry/gpu/model.sha256 ] && cp .carry/gpu/model.sha256 $D/
