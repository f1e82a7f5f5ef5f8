#!/usr/bin/env bash
# The FlexAttention peers script (scripts/peers_attention.py) must time exactly the MaskPlan layouts
# of the CUDA benchmark: its Python port of the generator (--print-layouts, no torch needed) must print
# byte for byte what the C code of tests/cuda/bench_layouts.h gives through maskplan.c
# (tests/tools/bench_layouts_dump): every head's sorted columns and diagonals (block layouts: the
# count and a hash of the listed blocks) and the exact kept pairs (maskplan_kept_pairs) at several n,
# so the densities the script reports agree too.
test_name=peers_layouts
source "$(dirname "$0")/lib.sh"
dump="${BUILD:-build}/tests/tools/bench_layouts_dump"
if ! command -v python3 >/dev/null; then echo "skip: peers_layouts: no python3"; exit 0; fi
# n: tiny (rows shorter than the far diagonals), around the columns / diagonals, the bench's sizes, odd
ns="1 5 300 447 511 512 1000 1024 4096 4097 16384 65536"
if "$dump" 32 $ns >"$tmp/c.txt" && python3 scripts/peers_attention.py --print-layouts --heads 32 --n $ns >"$tmp/py.txt"; then
    ok
else
    bad "a generator failed to run"
fi
if [ -s "$tmp/c.txt" ] && cmp -s "$tmp/c.txt" "$tmp/py.txt"; then ok; else bad "C and Python layouts differ: $(diff "$tmp/c.txt" "$tmp/py.txt" | head -3 | cut -c1-200)"; fi
# 12 n x (32 dam_like heads + 2 sink+window lines) + 11 n <= 16384 x (4 block layouts x 4 heads)
if [ "$(wc -l <"$tmp/c.txt")" -eq $((12 * 34 + 11 * 16)) ]; then ok; else bad "line count $(wc -l <"$tmp/c.txt")"; fi
# block layouts at n = 4096 (64 whole query blocks): kept = 64 * 64 per listed earlier block + 64 * 65 / 2
# per diagonal block, i.e. 4096 (B - 64) + 64 * 2080 for B listed blocks
if awk '$1 ~ /^blocks/ && $3 == 4096 { n++; if ($11 != 4096 * ($7 - 64) + 64 * 2080) bad++ } END { exit !(n == 16 && bad == 0) }' "$tmp/c.txt"; then ok; else bad "block layouts' kept pairs at 4096"; fi
# ... and at n = 16384 each keeps its percentage of the 256 * 255 / 2 earlier blocks within 1.5 points
if awk '$1 ~ /^blocks/ && $3 == 16384 { n++; p = substr($1, 7) + 0; f = 100 * ($7 - 256) / (256 * 255 / 2); if (f < p - 1.5 || f > p + 1.5) bad++ } END { exit !(n == 16 && bad == 0) }' "$tmp/c.txt"; then ok; else bad "block layouts' densities at 16384"; fi
# head 0 of the DAM-like layout, as the C code gave it on the day it was written (a change of the
# generator on both sides at once must show)
if grep -q "^dam_like n 1024 head 0 cols 0 1 2 3 28 90 208 214 273 280 289 332 405 426 479 480 diags 0 1 2 " "$tmp/c.txt"; then ok; else bad "dam_like head 0 changed"; fi
# sink 128 + window 1024 at n = 4096, by hand: the window keeps min(p + 1, 1024) keys of row p:
# 1024*1025/2 + (4096 - 1024)*1024 = 524800 + 3145728 = 3670528; a row p >= 1024 sees keys
# p-1023 .. p in the window, so the sinks 0..127 add min(128, p - 1023) keys: rows 1024..1150 add
# 1 + ... + 127 = 8128, rows 1151..4095 add 2945*128 = 376960; total 3670528 + 8128 + 376960 = 4055616
if grep -q "^sink128_win1024 n 4096 head 0 .* kept 4055616$" "$tmp/py.txt"; then ok; else bad "sink128_win1024 kept pairs at 4096"; fi
echo "peers_layouts                $([ $fail -eq 0 ] && echo ok || echo FAIL) ($n checks, $fail failed)"
[ $fail -eq 0 ]
