#!/usr/bin/env bash
# `dam inspect` and `dam check` on synthetic results files written by tests/tools/results_tool:
# check exits 0 within the margin, 1 on a regression (listed on stderr), 2 on a missing file, an
# unknown baseline, no common examples, malformed arguments or a results file of another schema
# major version (one stderr line each; inspect, plot and run --resume refuse it too); inspect
# prints one CSV row per (method, example) and flags the cells where full attention scores < 0.5.
# `dam compare` matches two files result by result (identical predictions, score and NLL
# differences; different prompts refused). If python3 with h5py is installed, the h5py snippet of docs/hdf5.md is run on a file too.
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
dam="${DAM_BIN:-$root/build/dam}"
tool="$(dirname "$dam")/tests/tools/results_tool"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0; n=0

bad() { echo "FAIL results_cli/$1: $2"; fail=$((fail + 1)); }

# expect NAME STATUS PATTERN CMD...: runs dam CMD, wants exit STATUS and PATTERN in stdout+stderr;
# for status 2 also exactly one stderr line.
expect() {
    local name="$1" want="$2" pattern="$3"; shift 3
    n=$((n + 1))
    timeout 60 "$dam" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ $rc -ne "$want" ]; then bad "$name" "exit $rc, want $want: $(head -c 300 "$tmp/err")"; return; fi
    if ! cat "$tmp/out" "$tmp/err" | grep -qE -- "$pattern"; then bad "$name" "no /$pattern/ in: $(head -c 300 "$tmp/out" "$tmp/err")"; return; fi
    if [ "$want" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then bad "$name" "$(wc -l <"$tmp/err") stderr lines"; fi
}

[ -x "$tool" ] || { echo "FAIL results_cli: $tool not built (make all)"; exit 1; }
"$tool" synth "$tmp/ok.h5" --drop 0.005 || bad synth "ok.h5"
"$tool" synth "$tmp/drop.h5" --drop 0.05 --nll-up 0.3 || bad synth "drop.h5"
"$tool" synth "$tmp/disjoint.h5" --disjoint || bad synth "disjoint.h5"

# the gate
expect within_margin 0 "passkey +dam +20 +1\.0000 +0\.9950 +0\.0050 +ok" check "$tmp/ok.h5" --baseline full --max-drop 0.01
expect default_flags 0 "score against full, max drop 0.01" check "$tmp/ok.h5"
expect regression 1 "check failed: dam on passkey: score 0\.9500 vs full 1\.0000" check "$tmp/drop.h5" --baseline full --max-drop 0.01
expect regression_table 1 "niah +dam .*REGRESSION" check "$tmp/drop.h5" --baseline full --max-drop 0.01
expect regression_count 1 "2 regressions" check "$tmp/drop.h5" --baseline full --max-drop 0.01
expect wider_margin 0 "ok" check "$tmp/drop.h5" --baseline full --max-drop 0.06
expect other_baseline 0 "passkey +full +20 +0\.9500 +1\.0000 +-0\.0500 +ok" check "$tmp/drop.h5" --baseline dam --max-drop 0.01
expect nll_regression 1 "dam on niah: answer_nll 0\.8000 vs full 0\.5000" check "$tmp/drop.h5" --metric answer_nll --max-drop 0.1
expect nll_ok 0 "lower is better" check "$tmp/ok.h5" --metric answer_nll --max-drop 0
expect recall 1 "dam on passkey: tail_mass_recall 0\.9000" check "$tmp/ok.h5" --metric tail_mass_recall --max-drop 0.05
# usage and input errors
expect missing_file 2 "$tmp/none.h5: cannot open" check "$tmp/none.h5" --baseline full --max-drop 0.01
expect not_hdf5 2 "not an HDF5 file" check "$0" --baseline full
expect unknown_baseline 2 "no baseline method \"nope\" \(methods: full, dam, streaming\)" check "$tmp/ok.h5" --baseline nope --max-drop 0.01
expect no_common 2 "no common example" check "$tmp/disjoint.h5" --baseline full --max-drop 0.01
expect bad_drop 2 "--max-drop: \"abc\" is not a number" check "$tmp/ok.h5" --max-drop abc
expect negative_drop 2 "--max-drop: -1 is negative" check "$tmp/ok.h5" --max-drop -1
expect missing_value 2 "--max-drop needs a value" check "$tmp/ok.h5" --max-drop
expect bad_metric 2 "--metric: unknown metric \"bogus\"" check "$tmp/ok.h5" --metric bogus
expect unknown_flag 2 "unknown argument --frob" check "$tmp/ok.h5" --frob
expect no_file 2 "give a results file" check --baseline full
expect two_files 2 "more than one results file" check "$tmp/ok.h5" "$tmp/drop.h5"

# --expected: committed values with tolerances (the regression gate's form; tests/t_regression.sh)
printf '# comment\n\npasskey\tdam\tscore\t0.995\t0.0001\npasskey  full  answer_nll  0.5  0\n' >"$tmp/exp_ok.tsv"
expect expected_ok 0 "passkey +dam +score +20 +0\.995000 +0\.995000 .* ok" check "$tmp/ok.h5" --expected "$tmp/exp_ok.tsv"
printf 'passkey\tdam\tscore\t0.995\t0.0001\nniah\tstreaming\tscore\t0.7\t0.01\n' >"$tmp/exp_drift.tsv"
expect expected_drift 1 "exp_drift.tsv:2: streaming on niah: score 0\.623000, expected 0\.700000 \+- 0\.01" check "$tmp/ok.h5" --expected "$tmp/exp_drift.tsv"
expect expected_drift_table 1 "niah +streaming +score .*DRIFT" check "$tmp/ok.h5" --expected "$tmp/exp_drift.tsv"
printf 'passkey\tbigbird\tscore\t1\t0\n' >"$tmp/exp_missing.tsv"
expect expected_missing 1 "no results of bigbird on passkey" check "$tmp/ok.h5" --expected "$tmp/exp_missing.tsv"
printf 'passkey\tdam\tscore\t1\n' >"$tmp/exp_short.tsv"
expect expected_malformed 2 "exp_short.tsv:1: expected TASK METHOD METRIC EXPECTED TOLERANCE" check "$tmp/ok.h5" --expected "$tmp/exp_short.tsv"
printf 'passkey\tdam\tscore\t1\t-1\n' >"$tmp/exp_neg.tsv"
expect expected_negative_tol 2 "exp_neg.tsv:1: expected TASK" check "$tmp/ok.h5" --expected "$tmp/exp_neg.tsv"
printf '# nothing\n' >"$tmp/exp_empty.tsv"
expect expected_empty 2 "exp_empty.tsv: no expected values" check "$tmp/ok.h5" --expected "$tmp/exp_empty.tsv"
expect expected_no_file 2 "$tmp/none.tsv: cannot open" check "$tmp/ok.h5" --expected "$tmp/none.tsv"
expect expected_with_gate 2 "--expected excludes --baseline" check "$tmp/ok.h5" --expected "$tmp/exp_ok.tsv" --baseline full

# schema versions (docs/hdf5.md): a newer minor reads; another major is refused by every reader,
# and by `dam run --resume`, which would republish the file, with one line naming file and version
cp "$tmp/ok.h5" "$tmp/minor.h5"; "$tool" set-schema "$tmp/minor.h5" 1.9 || bad set_schema "minor.h5"
cp "$tmp/ok.h5" "$tmp/major.h5"; "$tool" set-schema "$tmp/major.h5" 2.0 || bad set_schema "major.h5"
expect schema_minor_reads 0 "passkey +dam" inspect "$tmp/minor.h5"
for c in inspect check plot; do
    expect "schema_major_$c" 2 "$tmp/major.h5: attribute schema_version: schema 2.0 is not supported \(this dam reads 1\.x; upgrade dam\)" $c "$tmp/major.h5"
done
printf '{"workloads": [{"task": "passkey", "lengths": [512]}], "methods": [{"method": "full"}]}' >"$tmp/resume.json"
expect schema_major_resume 2 "$tmp/major.h5: attribute schema_version: schema 2.0 is not supported" run "$tmp/resume.json" -o "$tmp/major.h5" --resume
cp "$tmp/ok.h5" "$tmp/old.h5"; "$tool" set-schema "$tmp/old.h5" 0.3
expect schema_old_major 2 "$tmp/old.h5: .*schema 0\.3 is not supported \(this dam reads 1\.x; re-run with this dam\)" check "$tmp/old.h5"
[ "$(h5dump -a /schema_version "$tmp/major.h5" 2>/dev/null | grep -c '"2.0"')" -eq 1 ] || bad schema_untouched "resume changed major.h5"
# --resume on a finished file whose journal is gone: nothing to continue, the file is kept
cp "$tmp/ok.h5" "$tmp/nojournal.h5"
expect resume_no_journal 2 "$tmp/nojournal.h5: --resume: no journal $tmp/nojournal.h5.journal next to it, so there is nothing to continue" \
    run "$tmp/resume.json" -o "$tmp/nojournal.h5" --resume
cmp -s "$tmp/ok.h5" "$tmp/nojournal.h5" || bad resume_no_journal_untouched "resume changed nojournal.h5"

# inspect
expect summary 0 "niah +full +2048 +10 +0\.250 .*uninformative" inspect "$tmp/ok.h5"
expect summary_ok_cell 0 "passkey +dam +1024 +10 +0\.995 +\[0\.715,1\.000\]" inspect "$tmp/ok.h5"
expect csv_header 0 "^method,task,index,target_len" inspect "$tmp/ok.h5" --csv
rows=$("$dam" inspect "$tmp/ok.h5" --csv | wc -l); n=$((n + 1))
[ "$rows" -eq 121 ] || bad csv_rows "$rows lines, want 1 header + 3 methods x 2 tasks x 20 examples"
fields=$("$dam" inspect "$tmp/ok.h5" --csv | sed 's/"[^"]*"//g' | awk -F, '{print NF}' | sort -u); n=$((n + 1))
[ "$fields" = "28" ] || bad csv_fields "field counts: $fields"
expect csv_quoting 0 '^dam,niah,3,2048,2047,0,0\.75,0,"key 1003, ""v""",0\.245,pred 1/1/3,0\.5,' inspect "$tmp/ok.h5" --csv
rows=$("$dam" inspect "$tmp/disjoint.h5" --csv | wc -l); n=$((n + 1))
[ "$rows" -eq 81 ] || bad csv_rows_disjoint "$rows lines, want 81"
expect inspect_missing 2 "$tmp/none.h5: cannot open" inspect "$tmp/none.h5"
expect inspect_flag 2 "unknown argument --xml" inspect "$tmp/ok.h5" --xml
expect inspect_help 0 "usage: dam inspect" inspect --help
expect check_help 0 "usage: dam check" check --help

# plot: every figure as PNG and SVG; the cost table holds one block per method (medians per length)
if command -v gnuplot >/dev/null; then
    n=$((n + 1))
    if "$dam" plot "$tmp/ok.h5" -o "$tmp/plots" >/dev/null 2>"$tmp/err"; then
        for f in accuracy heatmap pareto cost mass_recall; do
            for e in png svg; do [ -s "$tmp/plots/passkey_$f.$e" ] || bad plot_files "passkey_$f.$e missing"; done
        done
        [ "$(awk 'NF' "$tmp/plots/data/niah_cost.tsv" | cut -f1 | sort -u | tr '\n' ' ')" = "0 1 2 " ] || bad plot_cost_table "$(cat "$tmp/plots/data/niah_cost.tsv")"
        # full (1 by definition) gets no mass-recall panel: dam and streaming only
        [ "$(awk 'NF' "$tmp/plots/data/passkey_mass_recall.tsv" | cut -f1 | sort -u | tr '\n' ' ')" = "0 1 " ] || bad plot_mass_recall "panels: $(cut -f1 "$tmp/plots/data/passkey_mass_recall.tsv" | sort -u | tr '\n' ' ')"
    else bad plot "$(cat "$tmp/err")"; fi
    # every generation one token long: no decode time anywhere; the cost plot draws that panel empty
    # (with a note) instead of failing on a log axis without a point
    n=$((n + 1))
    "$tool" synth "$tmp/nodec.h5" --no-decode
    if "$dam" plot "$tmp/nodec.h5" -o "$tmp/plots_nodec" >/dev/null 2>"$tmp/err"; then
        [ -s "$tmp/plots_nodec/passkey_cost.png" ] && [ -s "$tmp/plots_nodec/passkey_cost.svg" ] || bad plot_no_decode "cost plot missing"
        grep -q "no decode time" "$tmp/plots_nodec/passkey_cost.svg" || bad plot_no_decode "no note in the decode panel"
    else bad plot_no_decode "$(cat "$tmp/err")"; fi
fi

# dam compare: ok.h5 vs drop.h5 differ only in dam's scores (by 0.05 - 0.005 = 0.045 on every
# example) and dam's answer NLL (0.5 vs 0.8: |dNLL| = 0.3); 2 tasks x 20 examples = 40 per method
"$dam" compare "$tmp/ok.h5" "$tmp/drop.h5" >"$tmp/cmp" 2>"$tmp/err" || bad compare "exit $?: $(cat "$tmp/err")"
n=$((n + 1))
grep -qE '^full +40 +40 \(100\.0%\) +40 \(100\.0%\) +0\.0000 +0\.0000' "$tmp/cmp" || bad compare_full "$(cat "$tmp/cmp")"
grep -qE '^dam +40 +40 \(100\.0%\) +0 \(0\.0%\) +0\.3000 +0\.3000' "$tmp/cmp" || bad compare_dam "$(cat "$tmp/cmp")"
grep -q "every matched prediction is identical" "$tmp/cmp" || bad compare_identical "$(cat "$tmp/cmp")"
# streaming's predictions altered at the even indices: 20 of 40 differ; 5 listed, 15 more counted
"$tool" synth "$tmp/alt.h5" --drop 0.005 --alter-pred
"$dam" compare "$tmp/ok.h5" "$tmp/alt.h5" --list 5 >"$tmp/cmp" 2>"$tmp/err" || bad compare_alt "exit $?: $(cat "$tmp/err")"
grep -qE '^streaming +40 +20 \(50\.0%\)' "$tmp/cmp" || bad compare_alt_row "$(cat "$tmp/cmp")"
[ "$(grep -c '^streaming passkey #[0-9]*: .*(altered)"$' "$tmp/cmp")" -eq 5 ] || bad compare_alt_list "$(cat "$tmp/cmp")"
grep -q "15 more not listed" "$tmp/cmp" || bad compare_alt_more "$(cat "$tmp/cmp")"
"$tool" synth "$tmp/ids.h5" --alter-ids
expect compare_prompts 2 "the prompts differ" compare "$tmp/ok.h5" "$tmp/ids.h5"
expect compare_one_file 2 "two results files needed" compare "$tmp/ok.h5"
expect compare_missing 2 "nothing.h5" compare "$tmp/ok.h5" "$tmp/nothing.h5"

# the h5py snippet of docs/hdf5.md, verbatim, when h5py is available
if python3 -c "import h5py" 2>/dev/null && [ -f "$root/docs/hdf5.md" ]; then
    n=$((n + 1))
    sed -n '/<!-- snippet:begin -->/,/<!-- snippet:end -->/p' "$root/docs/hdf5.md" | sed '/^<!--/d;/^```/d' \
        | sed "s#results/run.h5#$tmp/ok.h5#" >"$tmp/snippet.py"
    printf 'assert len(rows) == 120, len(rows)\nr = [x for x in rows if x["method"] == "dam" and x["task"] == "niah" and x["index"] == 3][0]\nassert r["target_len"] == 2048 and r["answer"] == "key 1003, \\"v\\"" and abs(r["score"] - 0.245) < 1e-12, r\n' >>"$tmp/snippet.py"
    python3 "$tmp/snippet.py" >"$tmp/py.out" 2>&1 || bad h5py_snippet "$(tail -5 "$tmp/py.out")"
fi

echo "results_cli                  $([ $fail -eq 0 ] && echo ok || echo FAIL) ($n cases, $fail failed)"
[ $fail -eq 0 ]
