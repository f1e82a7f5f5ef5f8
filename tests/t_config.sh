#!/usr/bin/env bash
# `dam config`: (a) docs/config.md against the code: every key `dam config --keys` collects from the
# parsers' own key tables must be a row of the right table of docs/config.md, and every row must be
# a key the code accepts; every method kind is listed in its "Common" paragraph. (b) Includes and
# per-method defaults (docs/config.md "Includes and defaults"): merge order, objects merged, arrays
# replaced, null removing a key, defaults under an entry's own keys, --set before defaults; a
# shortened config resolves to exactly the text of its long form. (c) Their errors: one line naming
# the file and key, exit 2. No model is loaded.
test_name=config_cli
source "$(dirname "$0")/lib.sh"

# (a) docs/config.md <-> code
"$dam" config --keys >"$tmp/keys" 2>"$tmp/err" && [ -s "$tmp/keys" ] && ok || bad "config --keys: $(cat "$tmp/err")"
drift() { # KEYS DOC: prints every disagreement
python3 - "$1" "$2" <<'PY'
import re, sys
code = {tuple(l.split()) for l in open(sys.argv[1]) if l.strip()}
kinds = sorted({s.split(".", 1)[1] for s, _ in code if s.startswith("methods.")})
docs, section, common, in_common = set(), None, "", False
for line in open(sys.argv[2]):
    h = re.match(r"^## (.*)", line)  # a level-2 heading starts a section; deeper ones stay in it
    if h:
        section = {"Top level": "top", "`workloads[i]`": "workloads", "`methods[i]`": "methods",
                   "Includes and defaults": "defaults"}.get(h.group(1).strip())
        continue
    if section and section.startswith("methods"):
        in_common = line.startswith("Common:") or (in_common and line.strip() != "")
        if in_common: common += line; continue
        k = re.match(r"^`([a-z0-9_]+)`", line)
        if k and k.group(1) in kinds: section = "methods." + k.group(1)
    row = re.match(r"^\| `([^`]+)` \|", line)
    if row and section and section != "methods": docs.add((section, row.group(1)))
for k in kinds:  # `method` and `name` are documented once, in the "Common:" paragraph
    for key in ("method", "name"):
        if re.search(r"`%s`" % key, common): docs.add(("methods." + k, key))
    if not re.search(r"`%s`" % k, common): print("method kind %s is not listed in the Common paragraph" % k)
for s, k in sorted(code - docs): print("in the code, not in docs/config.md: %s %s" % (s, k))
for s, k in sorted(docs - code): print("in docs/config.md, not in the code: %s %s" % (s, k))
PY
}
drift "$tmp/keys" docs/config.md >"$tmp/drift" 2>&1
[ ! -s "$tmp/drift" ] && ok || bad "docs/config.md drifted from the code: $(head -c 600 "$tmp/drift")"
# the check can fail: a dropped row, a row in the wrong table, an unknown key are all reported
sed -e '/^| `evict_kv` |/d' -e 's/^| `w_min` |/| `w_max` |/' -e 's/^| `global_decode` |/| `gamma` |/' docs/config.md >"$tmp/doc.md"
drift "$tmp/keys" "$tmp/doc.md" >"$tmp/drift" 2>&1
grep -q "in the code, not in docs/config.md: methods.dam evict_kv" "$tmp/drift" && grep -q "not in the code: methods.dam_online w_max" "$tmp/drift" \
    && grep -q "not in the code: methods.longformer gamma" "$tmp/drift" && ok || bad "the drift check misses changes: $(cat "$tmp/drift")"
grep -q "^methods.dam evict_kv$" "$tmp/keys" && ok || bad "--keys misses methods.dam evict_kv"
grep -q "^workloads num_topics$" "$tmp/keys" && grep -q "^top include$" "$tmp/keys" && grep -q "^defaults methods$" "$tmp/keys" \
    && ok || bad "--keys misses workloads / include / defaults keys"

# (b) includes and defaults
W='"workloads": [{"task": "passkey", "lengths": [512]}]'
cat >"$tmp/base.json" <<JSON
{"seed": 5, "threads": 2, $W, "methods": [{"method": "full"}, {"method": "dam"}],
 "defaults": {"methods": {"dam": {"tau": 0.1, "mu": 0.7}, "h2o": {"heavy_frac": 0.2}}},
 "sweep": {"dam.mu": [0.5, 0.6]}}
JSON
cat >"$tmp/child.json" <<JSON
{"include": "$tmp/base.json", "seed": 6, "threads": null,
 "methods": [{"method": "full"}, {"method": "dam", "mu": 0.9}, {"method": "h2o", "heavy": 64, "heavy_frac": null}],
 "defaults": {"methods": {"streaming": {"sinks": 2}}}, "sweep": null}
JSON
cat >"$tmp/long.json" <<JSON
{"seed": 6, $W, "methods": [{"method": "full"}, {"method": "dam", "tau": 0.1, "mu": 0.9}, {"method": "h2o", "heavy": 64}]}
JSON
"$dam" config "$tmp/child.json" >"$tmp/child.out" 2>"$tmp/err" && "$dam" config "$tmp/long.json" >"$tmp/long.out" \
    && cmp -s "$tmp/child.out" "$tmp/long.out" && ok || bad "include + defaults differ from the long form: $(cat "$tmp/err"; diff "$tmp/child.out" "$tmp/long.out" | head -20)"
grep -q '"include"\|"defaults"' "$tmp/child.out" && bad "include / defaults left in the resolved config" || ok
# the included sweep applies when not removed; --set reaches an entry and a default
printf '{"include": "%s"}' "$tmp/base.json" >"$tmp/plain.json"
"$dam" config "$tmp/plain.json" --set 'defaults.methods.dam.tau=0.2' >"$tmp/plain.out" 2>"$tmp/err"
python3 - "$tmp/plain.out" >"$tmp/check" 2>&1 <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
names = [m["name"] for m in c["methods"]]
want = ["full", "dam[mu=0.5]", "dam[mu=0.6]"]
if names != want: print("names %r, want %r" % (names, want))
if [m.get("tau") for m in c["methods"][1:]] != [0.2, 0.2]: print("tau %r" % [m.get("tau") for m in c["methods"]])
if c["seed"] != 5 or c["threads"] != 2: print("seed / threads %r %r" % (c["seed"], c["threads"]))
PY
[ -s "$tmp/check" ] && bad "included sweep / --set of a default: $(cat "$tmp/check" "$tmp/err")" || ok
"$dam" config "$tmp/child.json" --set 'dam.tau=0.25' | grep -q '"tau": 0.25' && ok || bad "--set METHOD.KEY over a default"
# list order (later wins), nesting, objects merged key by key
printf '{"seed": 1, "defaults": {"methods": {"dam": {"tau": 0.4, "mu": 0.6}}}}' >"$tmp/a.json"
printf '{"include": "%s", "seed": 2, "prefill_chunk": 64}' "$tmp/c.json" >"$tmp/b.json"
printf '{"threads": 3, "defaults": {"methods": {"dam": {"mu": 0.5}}}}' >"$tmp/c.json"
printf '{"include": ["%s", "%s"], %s, "methods": [{"method": "dam"}]}' "$tmp/a.json" "$tmp/b.json" "$W" >"$tmp/ab.json"
"$dam" config "$tmp/ab.json" >"$tmp/ab.out" 2>"$tmp/err"
python3 - "$tmp/ab.out" >"$tmp/check" 2>&1 <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
got = (c["seed"], c["threads"], c["prefill_chunk"], c["methods"][0]["tau"], c["methods"][0]["mu"])
if got != (2, 3, 64, 0.4, 0.5): print("seed, threads, prefill_chunk, tau, mu = %r, want (2, 3, 64, 0.4, 0.5)" % (got,))
PY
[ -s "$tmp/check" ] && bad "include list order / nesting: $(cat "$tmp/check" "$tmp/err")" || ok

# (c) errors: exit 2, one line, naming the file and key
expect() { # NAME PATTERN CONFIG_FILE [extra args]
    local name="$1" pattern="$2" file="$3"; shift 3
    "$dam" config "$file" "$@" >/dev/null 2>"$tmp/err"
    local rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -qE -- "$pattern" "$tmp/err"; then ok
    else bad "$name: exit $rc: $(head -c 300 "$tmp/err")"; fi
}
printf '{"include": "%s/nope.json", %s, "methods": [{"method": "full"}]}' "$tmp" "$W" >"$tmp/e1.json"
expect missing "e1.json: include: $tmp/nope.json: cannot open: No such file" "$tmp/e1.json"
printf '{"include": ["%s", "%s/nope.json"]}' "$tmp/a.json" "$tmp" >"$tmp/e2.json"
expect missing_in_list "e2.json: include\[1\]: $tmp/nope.json: cannot open" "$tmp/e2.json"
printf '{"include": "%s"}' "$tmp/cy2.json" >"$tmp/cy1.json"
printf '{"include": "%s"}' "$tmp/cy1.json" >"$tmp/cy2.json"
expect cycle "cy2.json: include: $tmp/cy1.json: include cycle \($tmp/cy1.json -> $tmp/cy2.json -> $tmp/cy1.json\)" "$tmp/cy1.json"
printf '{"include": "%s"}' "$tmp/self.json" >"$tmp/self.json"
expect self_include "self.json: include: $tmp/self.json: include cycle" "$tmp/self.json"
# 8 levels of includes are fine, a 9th is refused
for i in $(seq 0 9); do printf '{"include": "%s/d%d.json"}' "$tmp" $((i + 1)) >"$tmp/d$i.json"; done
printf '{%s, "methods": [{"method": "full"}]}' "$W" >"$tmp/d8.json"
"$dam" config "$tmp/d0.json" >/dev/null 2>"$tmp/err" && ok || bad "8 nested includes refused: $(cat "$tmp/err")"
printf '{"include": "%s/d9.json"}' "$tmp" >"$tmp/d8.json"
printf '{%s, "methods": [{"method": "full"}]}' "$W" >"$tmp/d9.json"
expect too_deep "d8.json: include: $tmp/d9.json: includes are nested more than 8 deep" "$tmp/d0.json"
printf '[1, 2]' >"$tmp/arr.json"
printf '{"include": "%s"}' "$tmp/arr.json" >"$tmp/e3.json"
expect not_object "e3.json: include: $tmp/arr.json: an included config must be a JSON object" "$tmp/e3.json"
printf '{"seed": 1,}' >"$tmp/broken.json"
printf '{"include": "%s"}' "$tmp/broken.json" >"$tmp/e4.json"
expect malformed "broken.json:1:.*malformed JSON.*included by $tmp/e4.json, include" "$tmp/e4.json"
printf '{"include": 3}' >"$tmp/e5.json"
expect include_type "e5.json: include: must be a file name or a non-empty list" "$tmp/e5.json"
printf '{"include": []}' >"$tmp/e6.json"
expect include_empty "e6.json: include: must be a file name or a non-empty list" "$tmp/e6.json"
expect set_include "long.json: include: cannot be set with --set" "$tmp/long.json" --set "include=$tmp/a.json"
printf '{%s, "methods": [{"method": "full"}], "defaults": {"methods": {"dma": {}}}}' "$W" >"$tmp/e7.json"
expect unknown_kind "e7.json: defaults.methods.dma: \"dma\" is not a method" "$tmp/e7.json"
printf '{%s, "methods": [{"method": "full"}], "defaults": {"methods": {"streaming": {"windw": 3}}}}' "$W" >"$tmp/e8.json"
expect unused_block "e8.json: defaults.methods.streaming.windw: unknown key" "$tmp/e8.json"
printf '{%s, "methods": [{"method": "dam"}], "defaults": {"methods": {"dam": {"name": "x"}}}}' "$W" >"$tmp/e9.json"
expect default_name "e9.json: defaults.methods.dam.name: cannot be a default" "$tmp/e9.json"
printf '{%s, "methods": [{"method": "dam"}], "defaults": {"method": {}}}' "$W" >"$tmp/e10.json"
expect defaults_key "e10.json: defaults.method: unknown key" "$tmp/e10.json"
printf '{%s, "methods": [{"method": "full"}, {"method": "dam"}], "defaults": {"methods": {"dam": {"tau": -1}}}}' "$W" >"$tmp/e11.json"
expect used_block "e11.json: methods\[1\].tau: -1 is out of range" "$tmp/e11.json"
printf '{%s, "methods": [{"method": "full"}], "defaults": 3}' "$W" >"$tmp/e12.json"
expect defaults_type "e12.json: defaults: must be an object" "$tmp/e12.json"

echo "config_cli                   $([ $fail -eq 0 ] && echo ok || echo FAIL) ($n checks, $fail failed)"
[ $fail -eq 0 ]
