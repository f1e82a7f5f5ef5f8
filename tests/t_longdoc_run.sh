#!/usr/bin/env bash
# End-to-end `dam run` of the long-document loaders on the hand-made fixtures
# (tests/fixtures/longbench, tests/fixtures/lveval) with full attention and the default model: the
# first record of LongBench hotpotqa and passage_retrieval_en and of LV-Eval factrecall_en and
# hotpotwikiqa_mixup at level 16k (short answers keep the test fast), with a budget (max_length
# 256) that cuts the hotpotqa record's context; the results file has one task per
# dataset (`dam inspect` rows grouped by it), n_truncated > 0 exactly where the prompt was cut,
# per-dataset generation budgets and scores in [0, 1]; and bad input (exit 2, one line naming the key
# or the file and line, no results file).
test_name=longdoc_run
source "$(dirname "$0")/lib.sh"

cat >"$tmp/ld.json" <<JSON
{"model": "smollm2-135m", "seed": 1, "output": "$tmp/ld.h5", "alignment": false,
 "workloads": [{"task": "longbench", "data_dir": "tests/fixtures/longbench", "datasets": ["hotpotqa", "passage_retrieval_en"],
                "samples": 1, "max_length": 256},
               {"task": "lveval", "data_dir": "tests/fixtures/lveval", "datasets": ["factrecall_en", "hotpotwikiqa_mixup"],
                "levels": ["16k"], "samples": 1, "max_length": 256, "prompt": "completion"}],
 "methods": [{"method": "full"}]}
JSON
if "$dam" run "$tmp/ld.json" >"$tmp/out" 2>"$tmp/err"; then ok; else bad "e2e exit $?: $(tail -3 "$tmp/err")"; fi
objs="$(h5ls -r "$tmp/ld.h5" 2>/dev/null)"
for o in /examples/longbench.hotpotqa /examples/longbench.passage_retrieval_en /examples/lveval.factrecall_en_16k \
         /examples/lveval.hotpotwikiqa_mixup_16k /runs/full/longbench.hotpotqa /runs/full/lveval.factrecall_en_16k \
         /examples/longbench.hotpotqa/n_truncated; do
    grep -q "^$o " <<<"$objs" && ok || bad "h5 object $o missing"
done
"$dam" inspect "$tmp/ld.h5" >"$tmp/table" 2>&1
for t in longbench.hotpotqa longbench.passage_retrieval_en lveval.factrecall_en_16k lveval.hotpotwikiqa_mixup_16k; do
    [ "$(grep -c "^$t  *full  *256 " "$tmp/table")" -eq 1 ] && ok || bad "inspect: no single row for $t at 256: $(head -c 600 "$tmp/table")"
done
"$dam" inspect --csv "$tmp/ld.h5" >"$tmp/rows.csv" 2>/dev/null
python3 - "$tmp/rows.csv" >"$tmp/check" 2>&1 <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
out = []
def need(cond, what):
    if not cond: out.append(what)
by = {}
for r in rows: by.setdefault(r["task"], []).append(r)
need({t: len(v) for t, v in by.items()} == {"longbench.hotpotqa": 1, "longbench.passage_retrieval_en": 1, "lveval.factrecall_en_16k": 1,
                                           "lveval.hotpotwikiqa_mixup_16k": 1}, f"rows per task {({t: len(v) for t, v in by.items()})}")
for r in rows:
    need(0.0 <= float(r["score"]) <= 1.0, f"score {r['score']} outside [0, 1]")
    need(int(r["n_tokens"]) <= 256 and r["target_len"] == "256" and r["depth"] == "-1", f"{r['task']} #{r['index']}: record")
    need(isinstance(json.loads(r["answer"]), list), f"answer {r['answer']} is not a JSON array")
hq = by.get("longbench.hotpotqa", [])
need(len(hq) == 1 and int(hq[0]["n_truncated"]) > 100 and int(hq[0]["n_tokens"]) == 256, "hotpotqa #0 not cut to 256 tokens")
need(all(int(r["n_truncated"]) == 0 and int(r["n_tokens"]) < 256 for t in by if t != "longbench.hotpotqa" for r in by[t]),
     "n_truncated set on prompts that fit")
budget = {"longbench.hotpotqa": 32, "longbench.passage_retrieval_en": 32, "lveval.factrecall_en_16k": 16, "lveval.hotpotwikiqa_mixup_16k": 64}
need(all(int(r["n_generated"]) <= budget[r["task"]] for r in rows), "a generation exceeds its dataset's max new tokens")
if out: print("\n".join(out))
PY
[ ! -s "$tmp/check" ] && ok || bad "$(cat "$tmp/check")"
grep -q '"truncation": "middle_context"' <(h5dump -d /config "$tmp/ld.h5" 2>/dev/null | sed 's/\\"/"/g') && ok || bad "truncation policy not in /config"

# bad input: exit 2, one line naming the key / file, no results file written
M='"methods": [{"method": "full"}]'
expect_run_error unknown_dataset "workloads\[0\]\.datasets\[0\]: \"hotpot\" is not a LongBench dataset" \
    "{\"workloads\": [{\"task\": \"longbench\", \"datasets\": [\"hotpot\"]}], $M}"
expect_run_error max_new "workloads\[0\]\.max_new_tokens: does not apply to lveval" \
    "{\"workloads\": [{\"task\": \"lveval\", \"datasets\": [\"factrecall_en\"], \"levels\": [\"16k\"], \"max_new_tokens\": 5}], $M}"
expect_run_error missing_dir "workloads\[0\]\.data_dir $tmp/nowhere" \
    "{\"workloads\": [{\"task\": \"longbench\", \"datasets\": [\"trec\"], \"data_dir\": \"$tmp/nowhere\"}], $M}"
expect_run_error malformed "malformed/bad_json/hotpotqa\.jsonl:2: malformed JSON line" \
    "{\"workloads\": [{\"task\": \"longbench\", \"datasets\": [\"hotpotqa\"], \"data_dir\": \"tests/fixtures/longbench/malformed/bad_json\"}], $M}"
expect_run_error missing_level "lveval/factrecall_en_32k\.jsonl: cannot open" \
    "{\"workloads\": [{\"task\": \"lveval\", \"datasets\": [\"factrecall_en\"], \"levels\": [\"32k\"], \"data_dir\": \"tests/fixtures/lveval\"}], $M}"

echo "longdoc_run                  $([ $fail -eq 0 ] && echo ok || echo FAIL) ($n checks, $fail failed)"
[ $fail -eq 0 ]
