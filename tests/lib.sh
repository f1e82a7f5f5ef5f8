# lib.sh — the preamble the end-to-end shell tests share; sourced after setting test_name:
#     test_name=run
#     source "$(dirname "$0")/lib.sh"
# Leaves the shell in the project root with: dam (the binary: $DAM_BIN, else build/dam), tmp (a
# fresh folder, removed on exit), and the counters n (checks) and fail with ok / bad NAME, which
# prints "FAIL <test_name>/NAME"; expect_run_error NAME PATTERN CONFIG_TEXT, the check that a bad
# config fails `dam run` cleanly.
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
dam="${DAM_BIN:-$root/build/dam}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0; n=0
ok() { n=$((n + 1)); }
bad() { n=$((n + 1)); fail=$((fail + 1)); echo "FAIL $test_name/$1"; }

# `dam run` of CONFIG_TEXT must exit 2 with one stderr line matching PATTERN (extended regex) and
# write no results file or journal.
expect_run_error() { # NAME PATTERN CONFIG_TEXT
    local name="$1" pattern="$2" text="$3"
    printf '%s' "$text" >"$tmp/bad.json"
    rm -f "$tmp/bad.h5" "$tmp/bad.h5.journal"
    "$dam" run "$tmp/bad.json" -o "$tmp/bad.h5" >/dev/null 2>"$tmp/err"
    local rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qE -- "$pattern" "$tmp/err" && [ ! -e "$tmp/bad.h5" ] && [ ! -e "$tmp/bad.h5.journal" ]; then ok
    else bad "$name: exit $rc: $(head -c 300 "$tmp/err")"; fi
}
