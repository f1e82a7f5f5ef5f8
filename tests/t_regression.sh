#!/usr/bin/env bash
# The CI regression gate: a small `dam run` on the real default model of
# tests/fixtures/regression_config.json (passkey at 256 and 384 tokens, depths 30 % and 70 %: 4
# examples; methods full, streaming and dam, DAM calibrated here at --pcl 64 --sequences 2; one
# thread, so the numbers do not depend on the machine's core count; ~40 s on 2 cores), then
#   1. `dam check` against full: answer NLL and tail mass recall may not fall further behind full
#      than the margins below (coarse: they catch a broken method, not a drift);
#   2. `dam check --expected tests/fixtures/regression_expected.tsv`: per method the mean score,
#      answer NLL and tail / spread mass recall within the stated tolerances of the committed
#      values (fine: they catch any change of the numbers; tolerances and how they were measured:
#      tests/fixtures/README.md);
#   3. the gate itself: a copy of the expected file with one value moved beyond its tolerance, or
#      a method the run lacks, fails (exit 1, the line named on stderr); a malformed one is an
#      input error (exit 2).
# After an intended change of the numbers, regenerate the expected file with
# tests/fixtures/gen/make_regression_expected.sh and commit it with the change that moved them.
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
dam="${DAM_BIN:-$root/build/dam}"
expected="$root/tests/fixtures/regression_expected.tsv"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0; n=0
ok() { n=$((n + 1)); }
bad() { n=$((n + 1)); fail=$((fail + 1)); echo "FAIL regression/$1"; }
t0=$(date +%s)

# the run: the config the expected values were made from, output and pattern file moved to $tmp
if "$dam" run tests/fixtures/regression_config.json -o "$tmp/reg.h5" --set "dam.patterns=$tmp/p.h5" --progress none \
    >"$tmp/run.out" 2>"$tmp/run.err"; then ok
else bad "dam run exit $?: $(tail -3 "$tmp/run.err")"; echo "regression                   FAIL ($n checks, $fail failed)"; exit 1; fi

# 1. coarse gates against full
"$dam" check "$tmp/reg.h5" --baseline full --metric answer_nll --max-drop 4.0 >"$tmp/c1.out" 2>"$tmp/c1.err" && ok ||
    bad "answer NLL gate: $(cat "$tmp/c1.err")"
"$dam" check "$tmp/reg.h5" --baseline full --metric tail_mass_recall --max-drop 0.9 >"$tmp/c2.out" 2>"$tmp/c2.err" && ok ||
    bad "mass recall gate: $(cat "$tmp/c2.err")"

# 2. the committed values
"$dam" check "$tmp/reg.h5" --expected "$expected" >"$tmp/e.out" 2>"$tmp/e.err" && ok ||
    bad "expected values: $(cat "$tmp/e.err")"
[ "$(grep -c ' ok$' "$tmp/e.out")" -eq "$(grep -cv '^#\|^$' "$expected")" ] && ok || bad "not every expected value was checked: $(cat "$tmp/e.out")"

# 3. the gate fails when it should
awk 'BEGIN { OFS = "\t" } /^#/ || NF == 0 { print; next }
     $2 == "dam" && $3 == "answer_nll" { $4 = sprintf("%.6f", $4 + 3 * $5 + 0.001) } { print }' "$expected" >"$tmp/perturbed.tsv"
"$dam" check "$tmp/reg.h5" --expected "$tmp/perturbed.tsv" >"$tmp/p.out" 2>"$tmp/p.err"
rc=$?
[ $rc -eq 1 ] && grep -q "perturbed.tsv:[0-9]*: dam on passkey: answer_nll .* expected .* (off by" "$tmp/p.err" &&
    grep -qE "^passkey +dam +answer_nll .*DRIFT$" "$tmp/p.out" && [ "$(grep -c DRIFT "$tmp/p.out")" -eq 1 ] && ok ||
    bad "perturbed expected value not caught: exit $rc: $(cat "$tmp/p.err")"
{ cat "$expected"; printf 'passkey\th2o\tanswer_nll\t1.0\t0.1\n'; } >"$tmp/missing.tsv"
"$dam" check "$tmp/reg.h5" --expected "$tmp/missing.tsv" >/dev/null 2>"$tmp/m.err"
[ $? -eq 1 ] && grep -q "no results of h2o on passkey" "$tmp/m.err" && ok || bad "missing method not caught: $(cat "$tmp/m.err")"
printf 'passkey\tdam\tanswer_nll\tabc\t0.1\n' >"$tmp/malformed.tsv"
"$dam" check "$tmp/reg.h5" --expected "$tmp/malformed.tsv" >/dev/null 2>"$tmp/x.err"
[ $? -eq 2 ] && [ "$(wc -l <"$tmp/x.err")" -eq 1 ] && grep -q "malformed.tsv:1: expected TASK METHOD" "$tmp/x.err" && ok ||
    bad "malformed expected file: $(cat "$tmp/x.err")"
printf 'passkey\tdam\tnll\t1\t0.1\n' >"$tmp/metric.tsv"
"$dam" check "$tmp/reg.h5" --expected "$tmp/metric.tsv" >/dev/null 2>"$tmp/x.err"
[ $? -eq 2 ] && grep -q "metric.tsv:1: unknown metric \"nll\"" "$tmp/x.err" && ok || bad "unknown metric: $(cat "$tmp/x.err")"
"$dam" check "$tmp/reg.h5" --expected "$expected" --max-drop 0.1 >/dev/null 2>"$tmp/x.err"
[ $? -eq 2 ] && grep -q "excludes --baseline" "$tmp/x.err" && ok || bad "--expected with --max-drop: $(cat "$tmp/x.err")"

echo "regression                   $([ $fail -eq 0 ] && echo ok || echo FAIL) ($n checks, $fail failed, $(($(date +%s) - t0)) s)"
[ $fail -eq 0 ]
