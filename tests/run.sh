#!/usr/bin/env bash
# Runs every test: the C test binaries in $BUILD/tests and the shell tests tests/*.sh.
# Exits non-zero if any failed. Tests find the default model under models/ (make model).
# DAM_TEST_SKIP: space-separated shell-test names to skip, each with a visible "skip:" line (`make asan`
# skips the longest end-to-end scripts, which `make test` runs in the same CI job).
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
BUILD="${BUILD:-build}"
export DAM_BIN="$root/$BUILD/dam"
fail=0
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    "$t" || { echo "FAILED: $t"; fail=1; }
done
for t in tests/t_*.sh; do
    [ -f "$t" ] || continue
    case " ${DAM_TEST_SKIP:-} " in
    *" $(basename "$t") "*) echo "skip: $(basename "$t") in this build (DAM_TEST_SKIP; make test runs it)"; continue ;;
    esac
    bash "$t" || { echo "FAILED: $t"; fail=1; }
done
[ $fail -eq 0 ] && echo "all tests passed" || echo "some tests failed"
exit $fail
