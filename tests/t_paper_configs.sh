#!/usr/bin/env bash
# The committed configs (configs/*.json) and the paper reproduction configs (docs/paper.md):
# (a) every run config passes `dam run`'s validation (keys, types, ranges, sweeps, includes): run with an
#     output in a folder that does not exist, validation must succeed and the run must stop at the
#     output check (exit 2, that one line) before the model loads; the MoA profile is valid JSON of
#     30 x 9 alphas / betas; paper_table1 shrunk by --set (256 tokens, 2 sequences, 4 new tokens)
#     really runs: 2 distinct sequences x full_eager / full / dam, no alignment measured.
# (b) the resume acceptance: paper_longeval shrunk by --set (longeval_lines at 384 tokens, 2
#     positions, full + streaming + h2o: 6 cells) is killed with SIGKILL once its journal holds at
#     least 2 results, then finished with --resume; its `dam inspect --csv` minus the timing columns
#     must equal that of an uninterrupted run of the same shrunk config.
# Needs data/wordlists/wonderwords (make data). One thread, so the two runs compute identically.
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
dam="${DAM_BIN:-$root/build/dam}"
tmp="$(mktemp -d)"
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fail=0; n=0
ok() { n=$((n + 1)); }
bad() { n=$((n + 1)); fail=$((fail + 1)); echo "FAIL paper_configs/$1"; }

# (a) validation of every config, without running it
for c in configs/*.json; do
    if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if "workloads" in d else 3)' "$c" 2>/dev/null; then
        "$dam" run "$c" -o "$tmp/nowhere/x.h5" >/dev/null 2>"$tmp/err"
        rc=$?
        [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "$tmp/nowhere/x.h5: cannot write the results here" "$tmp/err" \
            && ok || bad "$c: exit $rc: $(head -c 300 "$tmp/err")"
    else
        case "$c" in
            configs/base_*.json) # an include file: valid under a minimal run config, every defaults block checked
                printf '{"include": "%s", "workloads": [{"task": "passkey", "lengths": [512]}], "methods": [{"method": "full"}]}' \
                    "$c" >"$tmp/inc.json"
                "$dam" config "$tmp/inc.json" >/dev/null 2>"$tmp/err" && ok || bad "$c: $(head -c 300 "$tmp/err")"
                ;;
            configs/moa_*.json)
                python3 - "$c" 2>&1 <<'PY' >"$tmp/err" && ok || bad "$c: $(head -c 300 "$tmp/err")"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("alphas", "betas"):
    assert len(d[k]) == 30 and all(len(r) == 9 for r in d[k]), k + " is not 30 x 9"
PY
                ;;
            *) bad "$c: not JSON, or not a run config" ;;
        esac
    fi
done
for c in configs/paper_longeval.json configs/paper_table1.json; do [ -f "$c" ] && ok || bad "$c missing"; done

# paper_table1, shrunk, really runs
"$dam" run configs/paper_table1.json -o "$tmp/t1.h5" --threads 1 --set 'workloads[0].lengths=[256]' \
    --set 'workloads[0].samples=2' --set 'workloads[0].max_new_tokens=4' >/dev/null 2>"$tmp/err" \
    && ok || bad "paper_table1 shrunk run: $(tail -3 "$tmp/err")"
"$dam" inspect --csv "$tmp/t1.h5" >"$tmp/t1.csv" 2>/dev/null
python3 - "$tmp/t1.csv" >"$tmp/check" 2>&1 <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
out = []
if sorted(r["method"] for r in rows) != sorted(["full_eager", "full", "dam"] * 2): out.append("methods %r" % sorted(r["method"] for r in rows))
if sorted({r["sample"] for r in rows}) != ["0", "1"]: out.append("samples %r" % sorted({r["sample"] for r in rows}))
if any(r["mean_tail_mass_recall"] != "nan" for r in rows if r["method"] != "full"): out.append("alignment measured with alignment false")
if any(float(r["prefill_ms"]) <= 0 or float(r["peak_bytes"]) <= 0 for r in rows): out.append("no timing / memory")
if out: print("; ".join(out))
PY
[ ! -s "$tmp/check" ] && ok || bad "paper_table1 rows: $(cat "$tmp/check")"
sha="$(h5dump -d /examples/passkey/ids_sha256 "$tmp/t1.h5" 2>/dev/null | grep -o '"[0-9a-f]\{64\}"' | sort -u | wc -l)"
[ "$sha" -eq 2 ] && ok || bad "paper_table1: $sha distinct sequences, want 2"

# (b) kill -9 after >= 2 results, --resume, compare with an uninterrupted run
shrink=(--threads 1 --set 'workloads[0].lengths=[384]' --set 'workloads[0].depths=[0.25,0.75]' --set 'workloads[0].samples=1'
        --set 'methods=[{"method":"full"},{"method":"streaming","sinks":4,"window_frac":0.5},{"method":"h2o","heavy":64,"recent":64}]')
"$dam" run configs/paper_longeval.json -o "$tmp/ref.h5" "${shrink[@]}" >/dev/null 2>"$tmp/err" && ok || bad "uninterrupted run: $(tail -3 "$tmp/err")"
"$dam" run configs/paper_longeval.json -o "$tmp/kill.h5" "${shrink[@]}" >/dev/null 2>"$tmp/kill.err" &
pid=$!
results() { local c; c="$(grep -c '"type":"result"' "$tmp/kill.h5.journal" 2>/dev/null)"; echo "${c:-0}"; }
for _ in $(seq 600); do # at most 60 s
    [ "$(results)" -ge 2 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rc=$?; pid=
got="$(results)"
[ $rc -eq 137 ] && [ "$got" -ge 2 ] && [ "$got" -lt 6 ] && ok || bad "kill: exit $rc with $got results in the journal (want a SIGKILL between 2 and 5): $(tail -2 "$tmp/kill.err")"
if [ -f "$tmp/kill.h5" ]; then "$dam" inspect "$tmp/kill.h5" >/dev/null 2>&1 && ok || bad "results file unreadable after kill -9"; fi
"$dam" run configs/paper_longeval.json -o "$tmp/kill.h5" "${shrink[@]}" --resume >/dev/null 2>"$tmp/err" && ok || bad "resume: $(tail -3 "$tmp/err")"
grep -q "resuming from .*($got results done)" "$tmp/err" && ok || bad "resume did not start from the journal's $got results: $(grep resuming "$tmp/err")"
notime() { # the CSV without its timing columns
    python3 -c '
import csv, sys
r = csv.reader(open(sys.argv[1])); w = csv.writer(sys.stdout, lineterminator="\n")
head = next(r); keep = [i for i, h in enumerate(head) if h not in ("prefill_ms", "mask_ms", "decode_ms")]
for row in [head] + list(r): w.writerow([row[i] for i in keep])' "$1"
}
"$dam" inspect --csv "$tmp/ref.h5" >"$tmp/ref.csv" 2>/dev/null
"$dam" inspect --csv "$tmp/kill.h5" >"$tmp/kill.csv" 2>/dev/null
notime "$tmp/ref.csv" >"$tmp/ref.cmp"; notime "$tmp/kill.csv" >"$tmp/kill.cmp"
[ "$(python3 -c 'import csv,sys; print(len(list(csv.reader(open(sys.argv[1])))) - 1)' "$tmp/ref.cmp")" -eq 6 ] && ok || bad "uninterrupted run: not 6 rows"
if cmp -s "$tmp/ref.cmp" "$tmp/kill.cmp"; then ok; else bad "resumed run differs from the uninterrupted one: $(diff "$tmp/ref.cmp" "$tmp/kill.cmp" | head -c 600)"; fi

echo "paper_configs                $([ $fail -eq 0 ] && echo ok || echo FAIL) ($n checks, $fail failed; killed after $got of 6 results)"
[ $fail -eq 0 ]
