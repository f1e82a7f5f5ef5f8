#!/usr/bin/env bash
# `dam calibrate` (DAM Stage 1, docs/dam.md) through the CLI on the real default model:
#   - determinism: two runs (--pcl 64 --sequences 2) give byte-identical pattern files; with another
#     thread count OpenBLAS may sum in another order, so a --threads 1 run must agree to rounding
#     (mean attention within 1e-4, at most 0.1 % of true-mask cells flipped: docs/dam.md); the file
#     is readable by h5dump and records the parameters;
#   - input errors: each gives exit status 2 and one stderr line naming the flag or path, and
#     leaves no output or temporary file behind;
#   - atomic output: a run killed midway leaves the previous pattern file byte for byte.
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
dam="${DAM_BIN:-$root/build/dam}"
model="$root/models/SmolLM2-135M-Instruct.Q4_1.gguf"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0; n=0
bad() { echo "FAIL dam_cli/$1"; fail=$((fail + 1)); }

# determinism
n=$((n + 1))
"$dam" calibrate --model "$model" --pcl 64 --sequences 2 -o "$tmp/a.h5" >"$tmp/a.out" 2>"$tmp/a.err" || bad "run a: $(tail -1 "$tmp/a.err")"
"$dam" calibrate --model "$model" --pcl 64 --sequences 2 -o "$tmp/b.h5" >/dev/null 2>&1 || bad "run b"
"$dam" calibrate --model "$model" --pcl 64 --sequences 2 --threads 1 -o "$tmp/c.h5" >/dev/null 2>&1 || bad "run c"
cmp -s "$tmp/a.h5" "$tmp/b.h5" || bad "determinism: two runs differ"
drift="$("$root/${BUILD:-build}/tests/tools/patterns_cmp" "$tmp/a.h5" "$tmp/c.h5" 2>&1)" || bad "patterns_cmp: $drift"
echo "  --threads 1 vs default: $drift"
echo "$drift" | awk '$1 == "abar_max_abs" && $2 <= 1e-4 && $6 * 1000 <= $8 { ok = 1 } END { exit !ok }' ||
    bad "determinism: --threads 1 drifts beyond rounding from the default ($drift)"
n=$((n + 1))
# dam generate with that small file: --param sets the method's pcl / sequences (else it refuses the file)
"$dam" generate --model "$model" --prompt "The capital of France is" --max-new 2 --method dam --patterns "$tmp/a.h5" \
    --param pcl=64 --param sequences=2 >/dev/null 2>"$tmp/g.err" || bad "generate --param: $(tail -1 "$tmp/g.err")"
grep -q "^mean " "$tmp/g.err" || bad "generate --param: no per-layer table"
"$dam" generate --model "$model" --prompt x --method dam --patterns "$tmp/a.h5" --param 'pcl=[64,' >/dev/null 2>"$tmp/g2.err"
[ $? -eq 2 ] && [ "$(wc -l <"$tmp/g2.err")" -eq 1 ] && grep -q "not valid JSON" "$tmp/g2.err" || bad "generate --param with bad JSON: $(cat "$tmp/g2.err")"
n=$((n + 1))
# the file without its mean attention maps (tests/tools/patterns_strip, for the offline GPU machine):
# read back equal (the tool checks), smaller, and `dam generate` selects the same masks with it
"$root/${BUILD:-build}/tests/tools/patterns_strip" "$tmp/a.h5" "$tmp/s.h5" 2>"$tmp/s.err" || bad "patterns_strip: $(cat "$tmp/s.err")"
[ "$(stat -c %s "$tmp/s.h5")" -lt "$(stat -c %s "$tmp/a.h5")" ] || bad "patterns_strip: the stripped file is not smaller"
for f in a s; do
    "$dam" generate --model "$model" --prompt "The capital of France is" --max-new 2 --method dam --patterns "$tmp/$f.h5" \
        --param pcl=64 --param sequences=2 >"$tmp/g_$f.out" 2>"$tmp/g_$f.err" || bad "generate with $f.h5: $(tail -1 "$tmp/g_$f.err")"
done
cmp -s "$tmp/g_a.out" "$tmp/g_s.out" && diff <(grep "^mean " "$tmp/g_a.err") <(grep "^mean " "$tmp/g_s.err") >/dev/null ||
    bad "generate with the stripped pattern file differs from the full one"
"$root/${BUILD:-build}/tests/tools/patterns_strip" "$tmp/a.h5" >/dev/null 2>&1
[ $? -eq 2 ] || bad "patterns_strip with one argument: not exit 2"
n=$((n + 1))
grep -q "^calibrate: sequence 2/2" "$tmp/a.err" || bad "progress lines missing on stderr"
grep -q "^# mean true-mask density" "$tmp/a.out" || bad "summary missing on stdout"
n=$((n + 1))
if command -v h5dump >/dev/null; then
    h5dump -a /pcl "$tmp/a.h5" | grep -q "(0): 64" || bad "h5dump: pcl attribute"
    h5dump -a /n_sequences "$tmp/a.h5" | grep -q "(0): 2" || bad "h5dump: n_sequences attribute"
    h5dump -H "$tmp/a.h5" | grep -q 'DATASET "true_mask"' || bad "h5dump -H: no true_mask dataset"
    h5dump -d /layer_29/head_8/true_mask -H "$tmp/a.h5" | grep -q "( 64, 8 )" || bad "h5dump: true_mask shape"
fi
ls "$tmp" | grep -q '\.tmp\.' && bad "temporary file left after a successful run"

# a pcl sweep listing the smaller value first: the missing pattern file is calibrated once, at the
# largest PCL the run asks of it, and both instances run
n=$((n + 1))
cat >"$tmp/pcl.json" <<JSON
{"model": "smollm2-135m", "output": "$tmp/pcl_run.h5", "alignment": false,
 "workloads": [{"task": "passkey", "lengths": [200], "depths": [0.5], "max_new_tokens": 2}],
 "methods": [{"method": "dam", "patterns": "$tmp/pcl_sweep.h5", "sequences": 2}], "sweep": {"dam.pcl": [32, 64]}}
JSON
"$dam" run "$tmp/pcl.json" --progress none >/dev/null 2>"$tmp/pcl.err" || bad "pcl sweep run: $(tail -1 "$tmp/pcl.err")"
[ "$(grep -c "calibrating DAM (PCL 64" "$tmp/pcl.err")" -eq 1 ] && [ "$(grep -c "calibrating DAM" "$tmp/pcl.err")" -eq 1 ] ||
    bad "pcl sweep: expected one calibration at PCL 64: $(grep calibrating "$tmp/pcl.err")"

# expect NAME PATTERN ARGS...: wants exit 2 and one stderr line matching PATTERN, no output file
expect() {
    local name="$1" pattern="$2"; shift 2
    n=$((n + 1))
    rm -f "$tmp/out.h5"
    timeout 120 "$dam" calibrate "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines; lines=$(wc -l <"$tmp/err")
    if [ $rc -ne 2 ] || [ "$lines" -ne 1 ] || ! grep -qE -- "$pattern" "$tmp/err"; then
        echo "FAIL dam_cli/$name: exit $rc, $lines stderr lines: $(head -c 300 "$tmp/err")"
        fail=$((fail + 1))
    fi
    if [ -e "$tmp/out.h5" ] || ls "$tmp" | grep -q '\.tmp\.'; then bad "$name: output or temporary file left behind"; fi
}
printf 'just a few words\n' >"$tmp/tiny.txt"
printf 'not gzip at all' | gzip -c | head -c 12 >"$tmp/broken.gz"
expect bad_corpus "--corpus $tmp/nope.txt: cannot open" --model "$model" --corpus "$tmp/nope.txt" -o "$tmp/out.h5"
expect unwritable_out "-o $tmp/no-such-dir/p.h5: cannot write there" --model "$model" --pcl 64 -o "$tmp/no-such-dir/p.h5"
mkdir -p "$tmp/dir.h5"
expect out_is_dir "-o $tmp/dir.h5: is a directory" --model "$model" -o "$tmp/dir.h5"
expect out_not_h5 "-o $tmp/p.txt: the pattern file must end in .h5" --model "$model" -o "$tmp/p.txt"
expect corpus_too_short "$tmp/tiny.txt: corpus has [0-9]+ tokens, too short for 1 sequences of pcl 64" \
    --model "$model" --corpus "$tmp/tiny.txt" --pcl 64 --sequences 1 -o "$tmp/out.h5"
expect broken_gzip "$tmp/broken.gz: corpus is a truncated gzip stream" --model "$model" --corpus "$tmp/broken.gz" --pcl 16 --sequences 1 -o "$tmp/out.h5"
expect pcl_context "pcl 9000 exceeds the context length 8192" --model "$model" --pcl 9000 -o "$tmp/out.h5"
expect bad_tau "--tau: -1 is out of range" --model "$model" --tau -1 -o "$tmp/out.h5"
expect bad_mu "--mu: 1.5 is out of range" --model "$model" --mu 1.5 -o "$tmp/out.h5"
expect bad_lambda "--lambda: \"abc\" is not a finite number" --model "$model" --lambda abc -o "$tmp/out.h5"
expect bad_pcl "--pcl: 0 is out of range" --model "$model" --pcl 0 -o "$tmp/out.h5"
expect bad_prefix "--prefix: \"bos\" is not one of none, chat" --model "$model" --prefix bos -o "$tmp/out.h5"
expect min_cells "--min-pattern-cells: 100 exceeds --pcl 64" --model "$model" --pcl 64 --min-pattern-cells 100 -o "$tmp/out.h5"
expect no_output "-o PATH is required" --model "$model"
printf 'not a pattern file\n' >"$tmp/victim.h5"
expect out_not_patterns "-o $tmp/victim.h5: exists and is not a DAM pattern file" --model "$model" --pcl 64 -o "$tmp/victim.h5"
n=$((n + 1))
[ "$(cat "$tmp/victim.h5")" = "not a pattern file" ] || bad "out_not_patterns: the existing file was changed"

# atomic output: kill a long run (default pcl 512, 16 sequences) after 3 s; the old file survives
n=$((n + 1))
cp "$tmp/a.h5" "$tmp/keep.h5"
"$dam" calibrate --model "$model" -o "$tmp/keep.h5" >/dev/null 2>&1 &
pid=$!
sleep 3
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
cmp -s "$tmp/a.h5" "$tmp/keep.h5" || bad "killed run changed the previous pattern file"

echo "dam_cli                      $([ $fail -eq 0 ] && echo ok || echo FAIL) ($n cases, $fail failed)"
[ $fail -eq 0 ]
