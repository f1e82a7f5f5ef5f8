# lib.sh — the preamble the end-to-end shell tests share; sourced after setting test_name:
#     test_name=run
#     source "$(dirname "$0")/lib.sh"
# Leaves the shell in the project root with: dam (the binary: $DAM_BIN, else build/dam), tmp (a
# fresh folder, removed on exit), and the counters n (checks) and fail with ok / bad NAME, which
# prints "FAIL <test_name>/NAME".
set -u
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
dam="${DAM_BIN:-$root/build/dam}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0; n=0
ok() { n=$((n + 1)); }
bad() { n=$((n + 1)); fail=$((fail + 1)); echo "FAIL $test_name/$1"; }
