#!/usr/bin/env bash
# End-to-end `dam run` on the real default model (~512-token prompts): full, streaming and dam
# (calibrated here at a small PCL) on passkey and NIAH; the HDF5 layout with the DAM masks; inspect /
# check / plot (mask images from the results); --resume after a kill -9 at a random moment, refused
# for another config or a changed pattern file; a full disk in mid-run (exit 3, readable results,
# --resume finishes); and the config / path errors of `dam run` (one-line message naming the key
# or path, exit 2, no file left behind).
test_name=run
source "$(dirname "$0")/lib.sh"

cat >"$tmp/small.json" <<JSON
{"model": "smollm2-135m", "seed": 7, "output": "$tmp/small.h5",
 "workloads": [{"task": "passkey", "lengths": [512], "depths": [0.5], "max_new_tokens": 8},
               {"task": "niah", "lengths": [512], "depths": [0.5], "max_new_tokens": 12, "haystack_dir": "data/pg_essays"}],
 "methods": [{"method": "full"}, {"method": "streaming", "sinks": 4, "window": 64},
             {"method": "dam", "patterns": "$tmp/p.h5", "pcl": 64, "sequences": 2}]}
JSON
if "$dam" run "$tmp/small.json" >"$tmp/out" 2>"$tmp/err"; then ok; else bad "e2e exit $?: $(tail -3 "$tmp/err")"; fi
# progress: stderr is not a terminal, so plain lines (a line per cell and a final status line); none
# of it on stdout, which holds only the table
grep -q "^dam run: progress 6/6 cells (100%), elapsed [0-9hms]*, eta none (done)$" "$tmp/err" && ok || bad "no final progress line: $(tail -3 "$tmp/err")"
[ "$(grep -c '^\[ *[0-9]*/6\] ' "$tmp/err")" -eq 6 ] && ok || bad "per-cell lines on stderr"
grep -q "progress\|^\[ *[0-9]*/6\]" "$tmp/out" && bad "progress on stdout" || ok
grep -q $'\r' "$tmp/err" "$tmp/out" && bad "carriage return outside bar mode" || ok
objs="$(h5ls -r "$tmp/small.h5" 2>/dev/null)"
for o in /model /examples/passkey /examples/niah /runs/full/passkey /runs/streaming/niah /runs/dam/passkey \
         /runs/dam/passkey/alignment /runs/dam/passkey/density /config /patterns/dam/true_mask /patterns/dam/diagonals; do
    grep -q "^$o " <<<"$objs" && ok || bad "h5 object $o missing"
done
# full attention retrieves both needles at 512 tokens; the printed table has 6 rows
grep -qE "^passkey +full +512 +1 +1\.000" "$tmp/out" && ok || bad "full passkey accuracy: $(grep passkey "$tmp/out" | head -1)"
grep -qE "^niah +full +512 +1 +1\.000" "$tmp/out" && ok || bad "full niah accuracy"
[ "$(grep -cE '^(passkey|niah) ' "$tmp/out")" -eq 6 ] && ok || bad "summary rows"
rows() { python3 -c 'import csv,sys; print(len(list(csv.reader(sys.stdin))) - 1)'; } # CSV records (quoted newlines)
[ "$("$dam" inspect --csv "$tmp/small.h5" | rows)" -eq 6 ] && ok || bad "inspect --csv rows"
"$dam" check "$tmp/small.h5" --baseline full --max-drop 1.0 >/dev/null && ok || bad "check with margin 1.0"
"$dam" plot "$tmp/small.h5" -o "$tmp/plots" >/dev/null 2>&1 && [ -s "$tmp/plots/passkey_accuracy.png" ] && \
    [ -s "$tmp/plots/niah_heatmap.svg" ] && [ -s "$tmp/plots/passkey_cost.png" ] && [ -s "$tmp/plots/niah_cost.svg" ] && \
    [ -s "$tmp/plots/dam_mask_l00_h0.png" ] && [ -s "$tmp/plots/dam_mask_l00_h0.svg" ] && ok || bad "plot"
h5ls "$tmp/small.h5/patterns" 2>/dev/null | grep -q "^streaming " && bad "masks stored for streaming" || ok
# the masks stored in the results are the pattern file's (this dam instance uses the file's own
# thresholds): the docs/hdf5.md snippet, verbatim, against the pattern file's datasets
if python3 -c "import h5py, numpy" 2>/dev/null; then
    sed -n '/<!-- snippet-masks:begin -->/,/<!-- snippet-masks:end -->/p' docs/hdf5.md | sed '/^<!--/d;/^```/d' \
        | sed "s#results/run.h5#$tmp/small.h5#" >"$tmp/masks.py"
    cat >>"$tmp/masks.py" <<PY
p = h5py.File("$tmp/p.h5", "r")[f"layer_{l:02d}/head_{h}"]
want = np.unpackbits(p["true_mask"][()], axis=1, bitorder="little")[:Lh, :Lh]
assert (m == want).all() and list(R) == list(p["diagonals"][()]) and list(C) == list(p["columns"][()]), (l, h)
PY
    python3 "$tmp/masks.py" >"$tmp/py.out" 2>&1 && ok || bad "mask snippet: $(tail -3 "$tmp/py.out")"
fi
# an existing results file is never replaced silently; --overwrite and --resume are explicit
"$dam" run "$tmp/small.json" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "small.h5: exists; use --resume" "$tmp/err" && ok || bad "existing output not refused: $(cat "$tmp/err")"
"$dam" run "$tmp/small.json" --resume --overwrite >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "--resume with --overwrite"
mkdir -p "$tmp/dir.h5"
"$dam" run "$tmp/small.json" -o "$tmp/dir.h5" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "is a directory" "$tmp/err" && ok || bad "directory as output: $(cat "$tmp/err")"
# DAM mask images from the pattern file the run calibrated; bad --heads refused
"$dam" plot --patterns "$tmp/p.h5" --heads 0:0,3:2 --length 300 -o "$tmp/masks" >/dev/null 2>&1 && \
    [ -s "$tmp/masks/dam_mask_l03_h2.png" ] && [ -s "$tmp/masks/dam_mask_l00_h0.svg" ] && ok || bad "mask images"
"$dam" plot --patterns "$tmp/p.h5" --heads 99:0 >/dev/null 2>"$tmp/err"; [ $? -eq 2 ] && ok || bad "bad --heads"
# a bad --length is named as the option (not as its value)
"$dam" plot --patterns "$tmp/p.h5" --length 0 >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "^dam: --length: 0 is out of range" "$tmp/err" && ok || bad "plot --length 0: $(cat "$tmp/err")"
# identical token ids for every method: one sha256 per example, and the same prompt on a re-run
"$dam" run "$tmp/small.json" -o "$tmp/again.h5" --progress bar >"$tmp/out2" 2>"$tmp/err2"
# bar mode: the status line is rewritten in place with \r and cut by the final line
grep -q $'\r\[[0-9]/6 cells .*eta' "$tmp/err2" && grep -q "dam run: progress 6/6 cells (100%)" <(tr '\r' '\n' <"$tmp/err2") && ok || bad "bar progress: $(head -c 300 "$tmp/err2")"
grep -q $'\r' "$tmp/out2" && bad "bar progress on stdout" || ok
a="$(h5dump -d /examples/passkey/ids_sha256 "$tmp/small.h5" | grep -o '"[0-9a-f]\{64\}"')"
b="$(h5dump -d /examples/passkey/ids_sha256 "$tmp/again.h5" | grep -o '"[0-9a-f]\{64\}"')"
[ -n "$a" ] && [ "$a" = "$b" ] && ok || bad "prompt ids differ between runs with the same seed"
s1="$(h5dump -d /runs/dam/niah/score "$tmp/small.h5" | grep -A1 DATA)"; s2="$(h5dump -d /runs/dam/niah/score "$tmp/again.h5" | grep -A1 DATA)"
[ "$s1" = "$s2" ] && ok || bad "scores differ between identical runs"

# kill -9 at a random moment, then --resume completes the same cells
sed -e "s|\"lengths\": \[512\], \"depths\": \[0.5\], \"max_new_tokens\": 8|\"lengths\": [512, 768], \"depths\": [0.2, 0.8], \"max_new_tokens\": 8|" \
    -e "s|$tmp/small.h5|$tmp/kill.h5|" "$tmp/small.json" >"$tmp/kill.json"
"$dam" run "$tmp/kill.json" >/dev/null 2>&1 &
pid=$!
sleep $((4 + RANDOM % 12))
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
if [ -f "$tmp/kill.h5" ]; then "$dam" inspect "$tmp/kill.h5" >/dev/null 2>&1 && ok || bad "results file unreadable after kill -9"; fi
"$dam" run "$tmp/kill.json" --resume >/dev/null 2>"$tmp/err" && ok || bad "resume: $(tail -2 "$tmp/err")"
[ "$("$dam" inspect --csv "$tmp/kill.h5" | rows)" -eq 15 ] && ok || bad "resumed run has $("$dam" inspect --csv "$tmp/kill.h5" | rows) results, want 15"
# --resume refuses a run of another config, and one whose DAM pattern file changed since it started
"$dam" run "$tmp/kill.json" --resume --set streaming.window=32 >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "kill.h5.journal: --resume: the config differs from the journal's at methods\[1\].window (journal: 64, now: 32)" "$tmp/err" \
    && ok || bad "resume with another config: $(tail -1 "$tmp/err")"
cp "$tmp/p.h5" "$tmp/p.keep" && h5repack "$tmp/p.keep" "$tmp/p.h5" # same content, other bytes
"$dam" run "$tmp/kill.json" --resume >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "the pattern file of method dam changed since the run started" "$tmp/err" && ok || bad "resume with another pattern file: $(tail -1 "$tmp/err")"
mv "$tmp/p.keep" "$tmp/p.h5"

# SIGTERM (as Ctrl-C's SIGINT) once the first cell is done: the run finishes the cell it is in, writes
# the results file with every finished cell (readable, fewer than all), exits 128 + 15 with one line
# saying how to continue; --resume then finishes the run
printf '{"seed": 7, "threads": 1, "output": "%s", "workloads": [{"task": "passkey", "lengths": [256], "samples": 5, "max_new_tokens": 4}],
  "methods": [{"method": "full"}, {"method": "streaming", "window": 64}]}' "$tmp/int.h5" >"$tmp/int.json"
"$dam" run "$tmp/int.json" >/dev/null 2>"$tmp/int.err" &
pid=$!
for _ in $(seq 1200); do grep -q '^\[ *1/10\] ' "$tmp/int.err" && break; sleep 0.05; done
kill -TERM $pid 2>/dev/null; wait $pid; rc=$?
[ $rc -eq 143 ] && grep -q "^dam run: interrupted (SIGTERM): wrote .*int.h5 with [1-9] of 10 results; continue with the same command and --resume$" "$tmp/int.err" \
    && ok || bad "interrupt: exit $rc, $(tail -1 "$tmp/int.err")"
n="$("$dam" inspect --csv "$tmp/int.h5" 2>/dev/null | rows)"
[ "${n:-0}" -ge 1 ] && [ "${n:-0}" -le 9 ] && ok || bad "interrupted run's file has ${n:-no} results, want 1..9"
"$dam" run "$tmp/int.json" --resume >/dev/null 2>"$tmp/err" && [ "$("$dam" inspect --csv "$tmp/int.h5" | rows)" -eq 10 ] \
    && ok || bad "resume after the interrupt: $(tail -2 "$tmp/err")"

# a full disk (a 40 KiB file size limit: the journal takes ~10 KiB per result) during the run: exit 3
# naming the file (the journal, or the results file if a publication comes first); the results file
# stays readable with the examples published before, the journal keeps every finished result, and
# --resume without the limit finishes the run
printf '{"seed": 7, "threads": 1, "output": "%s", "workloads": [{"task": "passkey", "lengths": [256], "samples": 3, "max_new_tokens": 4}],
  "methods": [{"method": "full"}, {"method": "streaming", "window": 64}]}' "$tmp/full.h5" >"$tmp/full.json"
(trap '' XFSZ; ulimit -f 40; exec "$dam" run "$tmp/full.json") >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 3 ] && grep -qE "dam: $tmp/full.h5(.journal: cannot append|: cannot write).*File too large" "$tmp/err" \
    && ok || bad "full disk: exit $rc: $(tail -1 "$tmp/err")"
"$dam" inspect "$tmp/full.h5" >/dev/null 2>&1 && ok || bad "results file unreadable after a full disk"
"$dam" run "$tmp/full.json" --resume >/dev/null 2>"$tmp/err" && grep -q "resuming from .*([1-5] results done)" "$tmp/err" \
    && [ "$("$dam" inspect --csv "$tmp/full.h5" | rows)" -eq 6 ] && ok || bad "resume after a full disk: $(tail -2 "$tmp/err")"

# bad input: exit 2, one line naming the key / path, and no results file written
expect() { # NAME PATTERN CONFIG_TEXT [extra args]
    local name="$1" pattern="$2" text="$3"; shift 3
    printf '%s' "$text" >"$tmp/bad.json"
    rm -f "$tmp/bad.h5" "$tmp/bad.h5.journal"
    "$dam" run "$tmp/bad.json" -o "$tmp/bad.h5" "$@" >/dev/null 2>"$tmp/err"
    local rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qE -- "$pattern" "$tmp/err" && [ ! -e "$tmp/bad.h5" ] && [ ! -e "$tmp/bad.h5.journal" ]; then ok
    else bad "$name: exit $rc: $(head -c 300 "$tmp/err")"; fi
}
W='"workloads": [{"task": "passkey", "lengths": [512]}]'
M='"methods": [{"method": "full"}]'
expect malformed "malformed JSON" "{\"model\": \"smollm2-135m\", $W, $M"
expect unknown_key "methods\[1\]\.tauu: unknown key" "{$W, \"methods\": [{\"method\": \"full\"}, {\"method\": \"dam\", \"tauu\": 0.3}]}"
expect wrong_type "workloads\[0\]\.lengths\[0\]: must be an integer" "{\"workloads\": [{\"task\": \"passkey\", \"lengths\": [\"512\"]}], $M}"
expect out_of_range "methods\[0\]\.mu: 3 is out of range" "{$W, \"methods\": [{\"method\": \"dam\", \"mu\": 3}]}"
expect unknown_method "methods\[0\]\.method: \"h3o\" is not a supported method" "{$W, \"methods\": [{\"method\": \"h3o\"}]}"
expect unknown_task "workloads\[0\]\.task" "{\"workloads\": [{\"task\": \"no_such_task\", \"lengths\": [512]}], $M}"
expect dup_name "name \"full\" is used twice" "{$W, \"methods\": [{\"method\": \"full\"}, {\"method\": \"full\"}]}"
expect no_workloads "workloads: must be a non-empty array" "{$M}"
expect empty_sweep "sweep: must be a non-empty object" "{$W, $M, \"sweep\": {}}"
expect empty_sweep_list "sweep.dam.tau: must be a non-empty list" "{$W, \"methods\": [{\"method\": \"dam\"}], \"sweep\": {\"dam.tau\": []}}"
expect missing_haystack "haystack_dir $tmp/nowhere: .*\(.make data. fetches the data sets it can: docs/workloads.md\)$" "{\"workloads\": [{\"task\": \"niah\", \"lengths\": [512], \"haystack_dir\": \"$tmp/nowhere\"}], $M}"
printf 'x' >"$tmp/afile"
expect haystack_is_file "haystack_dir $tmp/afile: not a directory" "{\"workloads\": [{\"task\": \"niah\", \"lengths\": [512], \"haystack_dir\": \"$tmp/afile\"}], $M}"
expect relative_haystack "haystack_dir no_such_dir/pg: .*relative paths are read from the working directory" "{\"workloads\": [{\"task\": \"niah\", \"lengths\": [512], \"haystack_dir\": \"no_such_dir/pg\"}], $M}"
printf '{%s, %s}' "$W" "$M" >"$tmp/ok.json"
"$dam" run "$tmp/ok.json" -o "$tmp/no/such/dir/x.h5" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "$tmp/no/such/dir/x.h5: cannot write" "$tmp/err" && ok || bad "unwritable output: $(cat "$tmp/err")"
"$dam" run "$tmp/ok.json" -o "$tmp/ok.json/x.h5" >/dev/null 2>"$tmp/err" # the parent is a file
[ $? -eq 2 ] && grep -q "ok.json/x.h5: cannot write the results here: Not a directory" "$tmp/err" && [ ! -e "$tmp/x.h5" ] &&
    ok || bad "output under a file: $(cat "$tmp/err")"
"$dam" run "$tmp/missing.json" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "missing.json: cannot open" "$tmp/err" && ok || bad "missing config"

echo "run_e2e                      $([ $fail -eq 0 ] && echo ok || echo FAIL) ($n checks, $fail failed)"
[ $fail -eq 0 ]
