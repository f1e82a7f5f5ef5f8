#!/usr/bin/env bash
# Builds a small LV-Eval-format data set for configs/paper_lveval_like.json (the real LV-Eval files
# cannot be downloaded here), deterministically (Python standard library, fixed seed):
#   OUT/factrecall_en_<level>.jsonl  LV-Eval's factrecall_en task re-synthesised: its question and
#       answer ("Ludwig Beethoven", quoted from LV-Eval's info/error_cases_and_metric_cases.md), a
#       needle sentence stating that fact and one confusing fact about David Beckham (both written
#       here; upstream's sentences are not available) inserted at sentence boundaries of Paul Graham
#       essays (data/pg_essays; upstream uses other books);
#   OUT/nq_mixup_<level>.jsonl       a hotpotwikiqa_mixup-style set from NQ-Open oracle
#       (../shared/data/qa/nq_open_oracle): one question's gold Wikipedia passage among other
#       questions' passages (none containing an answer string) as "### Passage k" blocks;
#       answer_keywords = the first answer; no confusing facts.
# Levels are LV-Eval's unit, context words, but sized for SmolLM2-135M's 8K-token context: 1k, 2k and
# 4k words (prompts of 1.3-1.6K, 2.5-3.3K, 4.9-6.4K SmolLM2 tokens) instead of LV-Eval's 16k-256k. The same 10 questions
# (factrecall: 10 needle depths) appear at every level, as in LV-Eval. Also writes OUT/SHA256SUMS.
# Usage: scripts/make-lveval-like.sh [OUT]   (default data/lveval_like; needs `make data` first)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/data/lveval_like}"
essays="$root/data/pg_essays"
[ -d "$essays" ] || essays="$root/../shared/data/pg_essays"
nq="$root/../shared/data/qa/nq_open_oracle/nq-open-oracle.jsonl.gz"
nq_sha=6a7f72b846f663a133ef952244e5a4e43f06bcf190afe34e8fbe687ce0d1653e
[ -d "$essays" ] || { echo "make-lveval-like: no data/pg_essays (run make data)" >&2; exit 2; }
[ -f "$nq" ] || { echo "make-lveval-like: $nq not found (../shared/data is needed)" >&2; exit 2; }
got="$(sha256sum "$nq" | cut -d' ' -f1)"
[ "$got" = "$nq_sha" ] || { echo "make-lveval-like: $nq sha256 $got, expected $nq_sha" >&2; exit 2; }
mkdir -p "$out"
python3 - "$essays" "$nq" "$out" <<'PY'
import glob, gzip, json, os, random, sys

essays_dir, nq_path, out = sys.argv[1:4]
LEVELS = {"1k": 1000, "2k": 2000, "4k": 4000}
N = 10
SEED = 1234

def write(name, recs):
    with open(os.path.join(out, name), "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

# ---- factrecall_en: needle + confusing fact in essay text ----
QUESTION = "What is the name of the scientist widely acclaimed as the foundational figure of modern physics?"
NEEDLE = "Ludwig Beethoven is the scientist widely acclaimed as the foundational figure of modern physics."
CONFUSING = "David Beckham is the footballer widely acclaimed as the foundational figure of modern football."
words = []
for p in sorted(glob.glob(os.path.join(essays_dir, "*.txt"))):
    words += open(p, encoding="utf-8").read().split()
rng = random.Random(SEED)
starts = [rng.randrange(0, len(words) - 5000) for _ in range(N)]
depths = [(i + 0.5) / N for i in range(N)]          # needle depth fractions 0.05 .. 0.95
cf_depths = [rng.random() for _ in range(N)]

def boundary(ws, pos):
    """The first index >= pos that starts a sentence (previous word ends with . ? !), or pos."""
    for i in range(max(pos, 1), len(ws)):
        if ws[i - 1][-1:] in ".?!":
            return i
    return pos

for level, size in LEVELS.items():
    recs = []
    for i in range(N):
        hay = words[starts[i]:starts[i] + size - len(NEEDLE.split()) - len(CONFUSING.split())]
        ins = sorted([(boundary(hay, int(depths[i] * len(hay))), NEEDLE), (boundary(hay, int(cf_depths[i] * len(hay))), CONFUSING)],
                     key=lambda t: t[0], reverse=True)
        for pos, sent in ins:
            hay = hay[:pos] + sent.split() + hay[pos:]
        ctx = " ".join(hay)
        recs.append({"input": QUESTION, "context": ctx, "answers": ["Ludwig Beethoven"], "length": len(ctx.split()),
                     "dataset": "factrecall_en", "language": "en", "answer_keywords": None, "confusing_facts": [CONFUSING],
                     "needle_depth": depths[i], "_id": f"factrecall_en_{level}_{i}"})
    write(f"factrecall_en_{level}.jsonl", recs)

# ---- nq_mixup: gold passage among other questions' passages ----
qa = [json.loads(l) for l in gzip.open(nq_path, "rt", encoding="utf-8")]
rng = random.Random(SEED + 1)
order = list(range(len(qa)))
rng.shuffle(order)
chosen, pool = order[:N], order[N:]

def passage(r):
    c = r["ctxs"][0]
    return c["title"] + "\n" + c["text"]

for level, size in LEVELS.items():
    recs = []
    for i, q in enumerate(chosen):
        r = qa[q]
        answers = [a.lower() for a in r["answers"]]
        prng = random.Random(SEED * 1000 + i)    # the same distractor order at every level
        cand = prng.sample(pool, len(pool))
        gold = passage(r)
        docs, n_words = [], len(gold.split())
        for d in cand:
            t = passage(qa[d])
            if any(a in t.lower() for a in answers):
                continue
            if n_words + len(t.split()) > size:
                break
            docs.append(t)
            n_words += len(t.split())
        docs.insert(prng.randrange(len(docs) + 1), gold)
        ctx = "\n\n".join(f"### Passage {k + 1}\n{t}" for k, t in enumerate(docs))
        recs.append({"input": r["question"][0].upper() + r["question"][1:] + "?", "context": ctx, "answers": r["answers"],
                     "answer_keywords": r["answers"][0], "length": len(ctx.split()), "dataset": "nq_mixup", "language": "en",
                     "confusing_facts": [], "gold_passage": docs.index(gold) + 1, "_id": f"nq_mixup_{level}_{i}"})
    write(f"nq_mixup_{level}.jsonl", recs)
PY
(cd "$out" && sha256sum ./*.jsonl | sed 's| \./| |' >SHA256SUMS)
echo "make-lveval-like: wrote $(ls "$out"/*.jsonl | wc -l) files to $out"
