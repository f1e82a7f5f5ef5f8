#!/usr/bin/env bash
# Crash safety of the results persistence (docs/hdf5.md): tests/tools/results_tool `crash` appends
# results to the journal and re-publishes the HDF5 file every 6 results, resuming from the
# journal each time it starts; it is killed with SIGKILL at random moments. After every kill the
# published .h5 must open and read (`dam inspect`), the journal must load (a torn last line is
# allowed), every record in both must equal what the tool generated, the .h5 may hold no result
# the journal lacks (it lags by the results since its last publication), and the journal never
# loses a result. A last uninterrupted run must end with .h5 == journal. DAM_CRASH_ITERS sets the
# number of kills (default 12).
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
dam="${DAM_BIN:-$root/build/dam}"
tool="$(dirname "$dam")/tests/tools/results_tool"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
iters="${DAM_CRASH_ITERS:-12}"
fail=0; midpub=0; torn=0; prev=0; maxlag=0
bad() { echo "FAIL results_crash/$1: $2"; fail=$((fail + 1)); }
[ -x "$tool" ] || { echo "FAIL results_crash: $tool not built (make all)"; exit 1; }

out="$tmp/crash.h5"
for i in $(seq "$iters"); do
    "$tool" crash "$out" --every 6 >/dev/null 2>"$tmp/crash.err" &
    pid=$!
    sleep "$(printf '0.%03d' $((RANDOM % 600 + 40)))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc=$?
    [ $rc -eq 137 ] || bad "kill$i" "exit $rc before the kill: $(head -c 300 "$tmp/crash.err")"
    [ -f "$out.tmp" ] && midpub=$((midpub + 1))
    if [ -f "$out" ]; then
        "$dam" inspect "$out" >/dev/null 2>"$tmp/err" || bad "kill$i" "dam inspect: $(head -c 300 "$tmp/err")"
    fi
    if ! "$tool" verify "$out" >"$tmp/v.out" 2>"$tmp/v.err"; then
        bad "kill$i" "verify: $(head -c 300 "$tmp/v.err")"
        continue
    fi
    # "journal R results E examples torn T | h5 H results"
    read -r _ jr _ _ _ _ t _ _ hr _ <"$tmp/v.out"
    torn=$((torn + t))
    [ "$jr" -ge "$prev" ] || bad "kill$i" "the journal lost results: $prev -> $jr"
    [ "$hr" -le "$jr" ] || bad "kill$i" "the .h5 has $hr results, more than the journal's $jr"
    [ "$hr" -lt 0 ] || [ $((jr - hr)) -le "$maxlag" ] || maxlag=$((jr - hr))
    prev=$jr
done
# Kills at exact points, when strace is installed: SIGKILL on entry to the Nth write / fsync /
# rename / truncate / openat, so that every phase is hit (journal append, its fsync, the .tmp
# image write, its fsync, the rename, the directory fsync, the torn-tail cut on resume).
injected=0
if command -v strace >/dev/null 2>&1; then
    calls=(write fsync rename fsync write openat rename truncate write fsync)
    for k in "${!calls[@]}"; do
        sc=${calls[$k]}; [ "$sc" = rename ] && sc=rename,renameat,renameat2
        nth=$((RANDOM % 40 + 1)); [ "${calls[$k]}" = rename ] && nth=$((RANDOM % 3 + 1))
        (strace -f -o /dev/null -e trace="$sc" -e inject="$sc:signal=KILL:when=$nth" \
            "$tool" crash "$out" --every 6 --max $((prev + 60)) >/dev/null 2>"$tmp/crash.err"; exit $?) 2>/dev/null
        rc=$?
        [ $rc -eq 137 ] && injected=$((injected + 1))
        [ -f "$out.tmp" ] && midpub=$((midpub + 1))
        if [ -f "$out" ]; then
            "$dam" inspect "$out" >/dev/null 2>"$tmp/err" || bad "${calls[$k]}#$nth" "dam inspect: $(head -c 300 "$tmp/err")"
        fi
        if ! "$tool" verify "$out" >"$tmp/v.out" 2>"$tmp/v.err"; then
            bad "${calls[$k]}#$nth" "verify: $(head -c 300 "$tmp/v.err")"
            continue
        fi
        read -r _ jr _ _ _ _ t _ _ hr _ <"$tmp/v.out"
        [ "$jr" -ge "$prev" ] || bad "${calls[$k]}#$nth" "the journal lost results: $prev -> $jr"
        [ "$hr" -le "$jr" ] || bad "${calls[$k]}#$nth" "the .h5 has $hr results, more than the journal's $jr"
        prev=$jr
    done
fi

# finish cleanly: the final publish holds everything the journal has
"$tool" crash "$out" --every 6 --max $((prev + 9)) >/dev/null 2>"$tmp/crash.err" || bad final "exit $?: $(head -c 300 "$tmp/crash.err")"
"$tool" verify "$out" >"$tmp/v.out" 2>"$tmp/v.err" || bad final "verify: $(head -c 300 "$tmp/v.err")"
read -r _ jr _ _ _ _ t _ _ hr _ <"$tmp/v.out"
[ "$jr" -eq "$hr" ] && [ "$t" -eq 0 ] || bad final "journal $jr results (torn $t), h5 $hr"

echo "results_crash                $([ $fail -eq 0 ] && echo ok || echo FAIL) ($iters random kills, $injected at syscalls, $midpub left a .tmp, $torn torn journal tails, .h5 lag up to $maxlag, $jr results at the end, $fail failed)"
[ $fail -eq 0 ]
