#!/usr/bin/env bash
# `dam bench` on the real default model (CPU): one row per (length, method) with the KV bytes of the
# model's shape and a mask-build time only for methods with plans, and the same rows in the HDF5
# file of -o (h5dump); and its input errors, each one
# stderr line and exit 2 (including --device cuda / --synthetic in a build without CUDA); and
# `dam compare`'s warning for a method name with different settings in the two runs.
test_name=bench
source "$(dirname "$0")/lib.sh"
model="$root/models/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -f "$model" ]; then echo "skip: bench: no $model (make model)"; exit 0; fi

# two lengths x three methods (the default config's dam and full, a streaming object)
if OMP_WAIT_POLICY=passive "$dam" bench --model "$model" --lengths 64,128 --repeats 1 --warmup 0 --method full \
        --method dam --method '{"method":"streaming","sinks":4,"window":32}' -o "$tmp/bench.h5" >"$tmp/out" 2>"$tmp/err"; then ok
else bad "run: $(tail -n 2 "$tmp/err")"; fi
# -o: the same six rows in /bench (h5dump), KV bytes hand-computed below, the settings as attributes
col() { h5dump -d "/bench/$1" "$tmp/bench.h5" 2>/dev/null | awk '/^   DATA \{/ {on = 1; next} on && /^   \}/ {exit} on' | tr -d '\n' | sed 's/ *([0-9]*): *//g; s/ //g'; }
[ "$(col tokens)" = "64,64,64,128,128,128" ] && ok || bad "h5 tokens: $(col tokens)"
[ "$(col method)" = '"full","dam","streaming","full","dam","streaming"' ] && ok || bad "h5 method: $(col method)"
[ "$(col kv_bytes)" = "2949120,2949120,2949120,5898240,5898240,5898240" ] && ok || bad "h5 kv_bytes: $(col kv_bytes)"
awk -v v="$(col mask_ms | cut -d, -f1)" 'BEGIN { exit !(v >= 0 && v < 0.05) }' && ok || bad "h5 mask_ms of full: $(col mask_ms)"
h5dump -a /kind -a /repeats "$tmp/bench.h5" 2>/dev/null | grep -q '"dam bench"' && ok || bad "h5 kind attribute"
[ ! -e "$tmp/bench.h5.tmp" ] && ok || bad "temporary file left behind"
# KV bytes, hand-computed for SmolLM2 (30 layers, 3 KV heads, head_dim 64, fp32 K and V):
# 2 * 30 * 3 * 64 * 4 * n bytes = 46080 n: 64 tokens -> 2.8125 MiB, 128 tokens -> 5.625 MiB
for row in "64 full 2.8" "64 dam 2.8" "64 streaming 2.8" "128 full 5.6" "128 dam 5.6" "128 streaming 5.6"; do
    set -- $row
    awk -v n="$1" -v m="$2" -v kv="$3" '$1 == n && $2 == m && $7 == kv { found = 1 } END { exit !found }' "$tmp/out" \
        && ok || bad "row $row: $(cat "$tmp/out")"
done
# peak memory (CPU: the weights once, ~515 MiB as fp32, + the step's own high-water mark, as dam run
# counts it): 64 tokens add little; counting the weights twice would give ~1,050 MiB
awk '$1 == 64 && ($8 < 450 || $8 > 800) { bad = 1 } END { exit bad }' "$tmp/out" && ok || bad "peak_MiB at 64 tokens: $(cat "$tmp/out")"
# full builds no plan; dam's plans take time
awk '$2 == "full" && $5 != "0.0" { bad = 1 } $2 == "dam" && $5 + 0 <= 0 { bad = 1 } END { exit bad }' "$tmp/out" \
    && ok || bad "mask_ms column: $(cat "$tmp/out")"
[ "$(grep -c '^ *[0-9]' "$tmp/out")" -eq 6 ] && ok || bad "six rows expected: $(cat "$tmp/out")"

expect_bench_error() { # NAME PATTERN ARGS...
    local name="$1" pattern="$2"; shift 2
    "$dam" bench --model "$model" --lengths 64 --repeats 1 "$@" >/dev/null 2>"$tmp/err"
    local rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qE -- "$pattern" "$tmp/err"; then ok
    else bad "$name: exit $rc: $(head -c 300 "$tmp/err")"; fi
}
expect_bench_error unknown_method 'nonsense' --method nonsense
expect_bench_error bad_json 'not a JSON object' --method '{bad'
expect_bench_error bad_key 'window_fraction' --method '{"method":"streaming","window_fraction":0.5}'
expect_bench_error warmup '--warmup' --warmup -1
expect_bench_error threads '--threads: -1 is out of range \[0, 4096\]' --threads -1
expect_bench_error device 'not cpu or cuda' --device gpu
expect_bench_error synthetic_cpu 'needs --device cuda' --synthetic llama3.1-8b
expect_bench_error synthetic_model 'exclude each other' --synthetic llama3.1-8b --device cuda
expect_bench_error output_folder 'folder .* does not exist' -o "$tmp/no/such/dir/b.h5"
expect_bench_error same_name 'two methods named "streaming"' --method streaming --method '{"method":"streaming","sinks":2,"window":16}'
if [ "$(basename "$(dirname "$dam")")" != "build-cuda" ]; then # a build without CUDA refuses the GPU by name
    expect_bench_error no_cuda 'built without the CUDA backend' --device cuda
fi

# dam compare warns when a method name stands for different settings in the two runs (real runs:
# the warning reads the configs stored in the results files)
for w in 16 32; do
    OMP_WAIT_POLICY=passive "$dam" run -o "$tmp/w$w.h5" --progress none --set "model=\"$model\"" \
        --set 'workloads=[{"task":"passkey","lengths":[128],"depths":[0.5],"samples":1,"max_new_tokens":2}]' \
        --set "methods=[{\"method\":\"full\"},{\"method\":\"streaming\",\"sinks\":2,\"window\":$w}]" >/dev/null 2>&1 \
        || bad "run window $w"
done
"$dam" compare "$tmp/w16.h5" "$tmp/w32.h5" >/dev/null 2>"$tmp/err" && grep -q "method streaming has different settings" "$tmp/err" \
    && ! grep -q "method full has" "$tmp/err" && ok || bad "compare settings warning: $(cat "$tmp/err")"

echo "bench                        $([ $fail -eq 0 ] && echo ok || echo FAIL) ($n checks, $fail failed)"
[ $fail -eq 0 ]
