#!/usr/bin/env bash
# End-to-end `dam run` of a "ruler" workload on the real default model: niah_single_1 (noise
# haystack, word key), niah_multikey_3 (UUID needles) and fwe at 512 tokens, one sample each, full
# attention, one thread (seed 1). Asserts what SmolLM2-135M does there (measured: it answers the
# single needle, " 2905507.", takes a distractor's UUID for multikey_3, and names one of the three
# frequent words: scores 1, 0, 1/3), the prompt lengths (tokens + max_new_tokens <= 512, max_new
# = RULER's 128 / 128 / 50), the examples grouped under the RULER task names in the HDF5, and the
# `dam inspect --ruler` layout (text and CSV) against the per-example rows of `dam inspect --csv`
# averaged independently here; then config and data errors (exit 2, one line, no results file).
# Needs data/wordlists/wonderwords (make data) or ../shared/data/wordlists/wonderwords.
test_name=ruler_run
source "$(dirname "$0")/lib.sh"
words=data/wordlists/wonderwords
[ -f "$words/nounlist.txt" ] || words=../shared/data/wordlists/wonderwords
if [ ! -f "$words/nounlist.txt" ]; then
    echo "ruler_run                    skip: no data/wordlists/wonderwords or ../shared/data/wordlists/wonderwords (make data)"
    exit 0
fi

cat >"$tmp/r.json" <<JSON
{"model": "smollm2-135m", "seed": 1, "threads": 1, "output": "$tmp/r.h5",
 "workloads": [{"task": "ruler", "tasks": ["niah_single_1", "niah_multikey_3", "fwe"], "lengths": [512], "samples": 1,
                "words_dir": "$words"}],
 "methods": [{"method": "full"}]}
JSON
if "$dam" run "$tmp/r.json" >"$tmp/out" 2>"$tmp/err"; then ok; else bad "e2e exit $?: $(tail -3 "$tmp/err")"; fi
objs="$(h5ls -r "$tmp/r.h5" 2>/dev/null)"
for o in /examples/niah_single_1 /examples/niah_multikey_3 /examples/fwe /runs/full/niah_single_1 /runs/full/fwe; do
    grep -q "^$o " <<<"$objs" && ok || bad "h5 object $o missing"
done
"$dam" inspect --csv "$tmp/r.h5" >"$tmp/rows.csv" 2>/dev/null
"$dam" inspect --ruler --csv "$tmp/r.h5" >"$tmp/ruler.csv" 2>/dev/null
"$dam" inspect --ruler "$tmp/r.h5" >"$tmp/ruler.txt" 2>/dev/null
python3 - "$tmp/rows.csv" "$tmp/ruler.csv" "$tmp/ruler.txt" >"$tmp/check" 2>&1 <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
out = []
def need(cond, what):
    if not cond: out.append(what)
need(len(rows) == 3, f"{len(rows)} rows, want 3")
by = {r["task"]: r for r in rows}
need(set(by) == {"niah_single_1", "niah_multikey_3", "fwe"}, f"tasks {sorted(by)}")
new = {"niah_single_1": 128, "niah_multikey_3": 128, "fwe": 50}
for t, r in by.items():
    need(r["target_len"] == "512", f"{t}: target_len {r['target_len']}")
    n = int(r["n_tokens"])
    need(n + new[t] <= 512, f"{t}: {n} + {new[t]} tokens exceed 512")
    need(isinstance(json.loads(r["answer"]), list), f"{t}: answer is not a JSON list: {r['answer']}")
    need(int(r["n_generated"]) <= new[t], f"{t}: generated {r['n_generated']} > {new[t]}")
need(abs(float(by["niah_single_1"]["score"]) - 1) < 1e-9 and by["niah_single_1"]["prediction"].strip() == "2905507.",
     f"niah_single_1: {by['niah_single_1']['prediction']!r} score {by['niah_single_1']['score']} (measured: ' 2905507.', 1)")
need(float(by["niah_multikey_3"]["score"]) == 0, f"niah_multikey_3 score {by['niah_multikey_3']['score']} (measured 0)")
need(abs(float(by["fwe"]["score"]) - 1 / 3) < 1e-9, f"fwe score {by['fwe']['score']} (measured 1/3)")
need(json.loads(by["niah_multikey_3"]["answer"])[0].count("-") == 4, "multikey_3 answer is a UUID")
# the RULER layout, recomputed from the per-example rows
order = ["niah_single_1", "niah_multikey_3", "fwe"]
score = {t: 100 * float(by[t]["score"]) for t in order}
avg = sum(score.values()) / 3
want = ["method,length," + ",".join(order) + ",average",
        "full,512," + ",".join(f"{score[t]:.2f}" for t in order) + f",{avg:.2f}"]
got = open(sys.argv[2]).read().splitlines()
need(got == want, f"--ruler --csv {got}, want {want}")
need(want[1] == "full,512,100.00,0.00,33.33,44.44", f"layout values {want[1]}")
txt = open(sys.argv[3]).read().splitlines()
need(len(txt) >= 4 and txt[2].split() == ["method", "length"] + order + ["average"], f"text header {txt[2:3]}")
need(len(txt) >= 4 and txt[3].split() == ["full", "512", "100.00", "0.00", "33.33", "44.44"], f"text row {txt[3:4]}")
if out: print("\n".join(out))
PY
[ ! -s "$tmp/check" ] && ok || bad "$(cat "$tmp/check")"
# a file without RULER tasks (passkey, niah): --ruler refuses it with one line
"$(dirname "$dam")/tests/tools/results_tool" synth "$tmp/other.h5" --n 2 >/dev/null 2>&1
"$dam" inspect --ruler "$tmp/other.h5" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "other.h5: inspect --ruler: the file holds no RULER task" "$tmp/err" && ok || bad "inspect --ruler without RULER tasks: exit $rc: $(cat "$tmp/err")"

# bad input: exit 2, one line naming the key / file, no results file written
M='"methods": [{"method": "full"}]'
W="\"words_dir\": \"$words\""
expect_run_error depths "workloads\[0\]\.depths: does not apply to ruler" \
    "{\"workloads\": [{\"task\": \"ruler\", \"tasks\": [\"fwe\"], \"lengths\": [512], \"depths\": [0.5]}], $M}"
expect_run_error no_qa_file "workloads\[0\]\.qa_file $tmp/none\.jsonl\.gz: No such file" \
    "{\"workloads\": [{\"task\": \"ruler\", \"tasks\": [\"qa_nq\"], \"lengths\": [512], \"qa_file\": \"$tmp/none.jsonl.gz\"}], $M}"
expect_run_error no_words "workloads\[0\]\.words_dir $tmp/nowhere" \
    "{\"workloads\": [{\"task\": \"ruler\", \"tasks\": [\"cwe\"], \"lengths\": [512], \"words_dir\": \"$tmp/nowhere\"}], $M}"
expect_run_error vt_short "ruler vt: length 512 is too small: the smallest prompt \(5 noise lines\) has [0-9]+ tokens, plus 30 to generate" \
    "{\"workloads\": [{\"task\": \"ruler\", \"tasks\": [\"vt\"], \"lengths\": [512]}], $M}"
printf '{"question": "q", "answers": "a", "ctxs": [{"title": "t", "text": "x"}]}\n' >"$tmp/bad_nq.jsonl"
expect_run_error bad_nq "bad_nq\.jsonl:1: key \"answers\" must be a non-empty array" \
    "{\"workloads\": [{\"task\": \"ruler\", \"tasks\": [\"qa_nq\"], \"lengths\": [512], \"qa_file\": \"$tmp/bad_nq.jsonl\"}], $M}"

echo "ruler_run                    $([ $fail -eq 0 ] && echo ok || echo FAIL) ($n checks, $fail failed)"
[ $fail -eq 0 ]
