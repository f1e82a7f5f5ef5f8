#!/usr/bin/env bash
# End-to-end `dam run` of the static baselines and full_eager on the real default model: one
# 512-token passkey example each for full, full_eager, sliding_window, dilated, bigbird, longformer
# and moa (the shipped profile), with parameters small enough that every sparse plan is sparse at
# 512 tokens. Checks: the run completes; every method has its result; full_eager reproduces full
# (same answer, logit KL ~ 0, output drift ~ 0) and its peak memory is higher; the sparse methods
# report density < 1 and a mass recall in (0, 1]. About 35 s on 2 cores.
test_name=baselines_run
source "$(dirname "$0")/lib.sh"

cat >"$tmp/b.json" <<JSON
{"model": "smollm2-135m", "seed": 11, "output": "$tmp/b.h5",
 "workloads": [{"task": "passkey", "lengths": [512], "depths": [0.5], "max_new_tokens": 8}],
 "methods": [{"method": "full"}, {"method": "full_eager"},
             {"method": "sliding_window", "window": 128},
             {"method": "dilated", "window": 64, "dilation": 2, "sinks": 4},
             {"method": "bigbird", "global_blocks": 1, "window_blocks": 2, "random_blocks": 1, "seed": 3},
             {"method": "longformer", "window": 128, "global_tokens": 4, "global_tail": 64},
             {"method": "moa"}]}
JSON
if "$dam" run "$tmp/b.json" >"$tmp/out" 2>"$tmp/err"; then ok; else bad "run exit $?: $(tail -3 "$tmp/err")"; fi
"$dam" inspect --csv "$tmp/b.h5" >"$tmp/csv" 2>/dev/null
python3 - "$tmp/csv" >"$tmp/checks" <<'PY'
import csv, math, sys
rows = {r["method"]: r for r in csv.DictReader(open(sys.argv[1]))}
def out(ok, what): print(("ok " if ok else "FAIL ") + what)
for m in ["full", "full_eager", "sliding_window", "dilated", "bigbird", "longformer", "moa"]:
    out(m in rows, f"result of {m}")
if "full" in rows and "full_eager" in rows:
    f, e = rows["full"], rows["full_eager"]
    out(f["prediction"] == e["prediction"] and f["score"] == e["score"], "full_eager answers as full")
    out(abs(float(e["logit_kl"])) < 1e-4, f"full_eager logit KL {e['logit_kl']}")
    out(float(e["mean_tail_out_rel_l2"]) < 1e-4, f"full_eager output drift {e['mean_tail_out_rel_l2']}")
    out(float(e["peak_bytes"]) > float(f["peak_bytes"]), f"full_eager peak {e['peak_bytes']} > full {f['peak_bytes']}")
for m in ["sliding_window", "dilated", "bigbird", "longformer", "moa"]:
    if m in rows:
        d, r = float(rows[m]["density"]), float(rows[m]["mean_tail_mass_recall"])
        out(0 < d < 1, f"{m} density {d}")
        out(0 < r <= 1 + 1e-6, f"{m} tail mass recall {r}")
PY
while read -r status what; do
    if [ "$status" = ok ]; then ok; else bad "$what"; fi
done <"$tmp/checks"
[ -s "$tmp/checks" ] || bad "no results to check: $(tail -2 "$tmp/err")"

echo "baselines_run                $([ $fail -eq 0 ] && echo ok || echo FAIL) ($n checks, $fail failed)"
[ $fail -eq 0 ]
