#!/usr/bin/env bash
# End-to-end `dam run` of decode-time KV eviction on the real default model: one 512-token passkey
# example for full, h2o (defaults: 10% heavy + 10% recent of the prompt), dam with evict_kv and
# the same dam without it (one pattern file, calibrated here with PCL 64 on 2 sequences so it is
# fast), max_new_tokens 8. Checks: the run completes; every method has its result; kv_bytes (the
# KV bytes the method holds at the end of generation for evicting methods, the prompt's KV for
# the others) of h2o and of dam with evict_kv is below full's, within the h2o budget, and full's
# is the prompt's 2 · 30 layers · 3 KV heads · n · 64 · 4 bytes; dam answers and scores the same
# with and without eviction (evicted keys are exactly the unreachable ones) with logit KL and
# answer NLL equal to 1e-4.
test_name=eviction_run
source "$(dirname "$0")/lib.sh"

dam_common="\"patterns\": \"$tmp/p64.h5\", \"pcl\": 64, \"sequences\": 2"
cat >"$tmp/e.json" <<JSON
{"model": "smollm2-135m", "seed": 11, "output": "$tmp/e.h5",
 "workloads": [{"task": "passkey", "lengths": [512], "depths": [0.5], "max_new_tokens": 8}],
 "methods": [{"method": "full"}, {"method": "h2o"},
             {"method": "dam", "name": "dam_evict", $dam_common, "evict_kv": true},
             {"method": "dam", "name": "dam_keep", $dam_common}]}
JSON
if "$dam" run "$tmp/e.json" >"$tmp/out" 2>"$tmp/err"; then ok; else bad "run exit $?: $(tail -3 "$tmp/err")"; fi
"$dam" inspect --csv "$tmp/e.h5" >"$tmp/csv" 2>/dev/null
python3 - "$tmp/csv" >"$tmp/checks" <<'PY'
import csv, sys
rows = {r["method"]: r for r in csv.DictReader(open(sys.argv[1]))}
def out(ok, what): print(("ok " if ok else "FAIL ") + what)
for m in ["full", "h2o", "dam_evict", "dam_keep"]:
    out(m in rows, f"result of {m}")
if all(m in rows for m in ["full", "h2o", "dam_evict", "dam_keep"]):
    f, h, de, dk = rows["full"], rows["h2o"], rows["dam_evict"], rows["dam_keep"]
    n = int(f["n_tokens"])
    kv = lambda r: float(r["kv_bytes"])
    entry = 2 * 64 * 4  # K and V of one key of one KV head, fp32
    out(kv(f) == 30 * 3 * n * entry, f"full kv_bytes {kv(f)} is the prompt's {30 * 3 * n * entry}")
    out(kv(dk) == kv(f), f"dam without eviction holds the prompt's KV ({kv(dk)})")
    budget = 2 * (n // 10)  # heavy + recent = floor(0.1 n) each, per KV head and layer
    out(0 < kv(h) <= 30 * 3 * budget * entry, f"h2o kv_bytes {kv(h)} within its budget {30 * 3 * budget * entry}")
    out(kv(h) < kv(f), f"h2o kv_bytes {kv(h)} < full's {kv(f)}")
    out(0 < kv(de) < kv(f), f"dam evict_kv kv_bytes {kv(de)} < full's {kv(f)}")
    out(de["prediction"] == dk["prediction"] and de["score"] == dk["score"], "dam answers the same with evict_kv")
    for k in ["answer_nll", "logit_kl"]:
        out(abs(float(de[k]) - float(dk[k])) <= 1e-4, f"dam {k} {de[k]} with evict_kv, {dk[k]} without")
    out(float(h["density"]) == 1.0, f"h2o prefill is dense (density {h['density']})")
PY
while read -r status what; do
    if [ "$status" = ok ]; then ok; else bad "$what"; fi
done <"$tmp/checks"
[ -s "$tmp/checks" ] || bad "no results to check: $(tail -2 "$tmp/err")"
if [ -n "${EVICTION_RUN_SHOW:-}" ]; then # the summary and the memory / latency columns
    cat "$tmp/out"
    python3 -c 'import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    print(r["method"], repr(r["prediction"]), "kv_bytes", r["kv_bytes"], "decode_ms", r["decode_ms"], "peak_bytes", r["peak_bytes"])' "$tmp/csv"
fi

echo "eviction_run                 $([ $fail -eq 0 ] && echo ok || echo FAIL) ($n checks, $fail failed)"
[ $fail -eq 0 ]
