#!/bin/bash
# cuda-stage-run.sh — stages what a machine without network needs to run the GPU backend
# (`build-cuda/dam`, the GPU tests) from this checkout, for the device tool (docs/cuda.md, "Running on
# the H200"): into the git-ignored .carry/gpu/ the binaries of `make cuda-dam` (bin.tgz), the shared
# libraries the device image lacks (libs.tgz: OpenBLAS and its Fortran / OpenMP runtimes), the workload
# data (data.tgz) and the DAM pattern file without its optional mean-attention maps (patterns.h5,
# ~1 MB instead of 117, made by build/tests/tools/patterns_strip); and the default model split into
# three parts of < 33 MB, .carry/gpu-m1 .. gpu-m3, each carried
# by its own call (one call carries at most 64 MiB with the working tree). Run after `make cuda-dam`,
# `make` (the CPU build, for patterns_strip), `make model data` and, for the `dam` method on the
# device, `dam calibrate` (patterns/smollm2-135m.h5, which `make run` and `make test` also make).
set -eu
cd "$(dirname "$0")/.."
C=.carry/gpu
rm -rf "$C" .carry/gpu-m1 .carry/gpu-m2 .carry/gpu-m3
mkdir -p "$C" .carry/gpu-m1 .carry/gpu-m2 .carry/gpu-m3
bins=(build-cuda/dam build-cuda/tests/cuda/* build-cuda/cuda/test_* build-cuda/cuda/bench_*)
# stripped copies (symbols are half their size; the carried tree must stay under 64 MiB with a model part)
bindir=$(mktemp -d)
libdir=$(mktemp -d)
trap 'rm -rf "$bindir" "$libdir"' EXIT # also when a step fails (set -e)
for b in "${bins[@]}"; do
    [ -f "$b" ] || continue # executables only (a directory under build-cuda/tests/cuda is skipped)
    mkdir -p "$bindir/$(dirname "$b")" && strip -o "$bindir/$b" "$b"
done
(cd "$bindir" && tar czf - .) >"$C/bin.tgz"
for lib in libopenblas.so.0 libgfortran.so.5 libgomp.so.1 libquadmath.so.0; do
    cp -L "$(ldd build-cuda/dam | awk -v l="$lib" '$1 == l {print $3}')" "$libdir/$lib"
done
tar czf "$C/libs.tgz" -C "$libdir" .
tar czf "$C/data.tgz" data/pg_essays data/jargon.txt.gz data/wordlists
# the pattern file with only what `dam run` reads (the masks), if there is one to strip
if [ -f patterns/smollm2-135m.h5 ] && [ -x build/tests/tools/patterns_strip ]; then
    build/tests/tools/patterns_strip patterns/smollm2-135m.h5 "$C/patterns.h5"
else
    echo "cuda-stage-run: no patterns/smollm2-135m.h5 or build/tests/tools/patterns_strip: the dam method will not run on the device"
fi
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
split -n 3 -d "$model" "$C/part."
mv "$C/part.00" .carry/gpu-m1/; mv "$C/part.01" .carry/gpu-m2/; mv "$C/part.02" .carry/gpu-m3/
sha256sum "$model" | awk '{print $1}' >"$C/model.sha256"
cp scripts/cuda-device-env.sh "$C/"
du -sh "$C" .carry/gpu-m1 .carry/gpu-m2 .carry/gpu-m3
