#!/usr/bin/env bash
# CPU prefill throughput of dam beside llama.cpp on the same GGUF, same machine, same run: the
# figures docs/performance.md records. llama.cpp is built from the llama-cpp-python sdist by
# tests/fixtures/gen/build-llamacpp.sh (a few minutes on 2 cores) unless LLAMACPP_DIR points at a
# built tree. Usage: scripts/bench-cpu.sh [LENGTHS] [REPEATS]     (default 1024,2048,4096 and 3)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
lengths="${1:-1024,2048,4096}"
reps="${2:-3}"
model="$root/models/SmolLM2-135M-Instruct.Q4_1.gguf"
llama="${LLAMACPP_DIR:-$("$root/tests/fixtures/gen/build-llamacpp.sh")}"
threads="$(nproc)"
echo "# $(date -u +%FT%TZ) $(git -C "$root" describe --always --dirty) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $threads threads"
"$root/build/dam" bench --lengths "$lengths" --repeats "$reps" --threads "$threads" --attention
echo "# llama.cpp (llama-bench, same GGUF, CPU, $threads threads, default settings)"
"$llama/build/bin/llama-bench" -m "$model" -p "$lengths" -n 0 -t "$threads" -r "$reps" -o md 2>/dev/null
