/* tokenizer_hf.c — tokenizer.json loading and the HF encode pipeline (see tokenizer_hf.h).
 *
 * Follows the `tokenizers` library (huggingface/tokenizers, tokenizers/src: added_vocabulary.rs,
 * normalizers/{prepend,replace,unicode}.rs, pre_tokenizers/{split,byte_level,digits,metaspace}.rs,
 * tokenizer/normalizer.rs (NormalizedString::split and its five behaviours), models/bpe/{model,word}.rs,
 * decoders/, processors/template.rs); tests/test_tokenizer_hf.c compares against the ids that
 * library (PyPI `tokenizers` 0.23.3) gives. The encode pipeline:
 *   1. added tokens are cut out leftmost-longest (aho-corasick's LeftmostLongest), first those with
 *      normalized = false on the raw text, then, in each remaining piece after the normalizer, those
 *      with normalized = true; a match of a special token is skipped (and its text stays plain) when
 *      parse_special is false, as `encode_special_tokens` does; lstrip / rstrip take the White_Space
 *      next to the match into the token;
 *   2. each remaining piece is normalized (Prepend, Replace) and pre-tokenized step by step, every
 *      step working on the pieces of the previous one;
 *   3. BPE on each pre-token: its characters (vocabulary lookups; else <0xXX> byte tokens with
 *      byte_fallback; else unk_token, consecutive ones fused with fuse_unk; else dropped) merged by
 *      rank through model/tokenizer.c's merge loop; with ignore_merges a pre-token that is itself a
 *      vocabulary token is taken whole;
 *   4. the post-processor's special tokens (BOS / EOS) when add_special is set.
 * Decoding uses the tokenizer's per-token pieces, rendered here by the decoder (an added token with
 * normalized = true from its normalized text, as the library's id_to_token gives it): ByteLevel maps each
 * character back to its byte (a token with a character outside the 256 stays as its text);
 * Replace / Metaspace turn the replacement into ' '; ByteFallback turns "<0xXX>" into the byte; a final
 * Strip(" ", 1, 0) drops one leading space of the whole output, Metaspace one of its first token.
 * Decoded bytes are returned as they are: where a run of byte tokens is not valid UTF-8 the library
 * writes U+FFFD instead. */
#define _GNU_SOURCE /* memmem */
#include "model/tokenizer_hf.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/json_file.h"
#include "core/mem.h"
#include "model/tokenizer_priv.h"
#include "model/unicode_nfc.h"

/* ---------------------------------------------------------------------------------------------
 * The pipeline
 * ------------------------------------------------------------------------------------------- */

enum { BH_REMOVED, BH_ISOLATED, BH_MERGED_PREV, BH_MERGED_NEXT, BH_CONTIGUOUS };
enum { STEP_SPLIT, STEP_BYTELEVEL, STEP_METASPACE };
enum { PREPEND_ALWAYS, PREPEND_FIRST, PREPEND_NEVER };

/* One pre-tokenizer. SPLIT: regex re (literal patterns are escaped), behaviour, invert (Digits is a
 * SPLIT on one numeric character). BYTELEVEL: prefix_space, re = GPT-2's regex or NULL (use_regex
 * false). METASPACE: replacement text, prepend scheme, split on the replacement (MergedWithNext). */
typedef struct {
    int kind;
    pcre2_code *re;
    int behavior;
    bool invert;
    bool prefix_space;
    char repl[8];
    size_t repl_len;
    int scheme;
    bool split;
} pre_step;

/* One normalizer: NFC (nfc), or prepend `to` (Prepend; from_len 0), or replace every `from` by `to`
 * (Replace). */
typedef struct {
    bool nfc;
    char *from, *to;
    size_t from_len, to_len;
} norm_step;

/* An added token: id, flags as in tokenizer.json, and the text matched: the content, or for
 * normalized = true the content passed through the normalizer (as upstream builds its pattern). */
typedef struct {
    int32_t id;
    bool special, lstrip, rstrip, normalized;
    char *pat;
    size_t pat_len;
} added_tok;

struct hf_pipeline {
    norm_step *norm;
    int n_norm;
    pre_step *pre;
    int n_pre;
    added_tok *added; /* by pass (normalized), first byte, then longest first */
    int n_added;
    int bucket[2][257];  /* [normalized][b] .. [normalized][b + 1]: the added tokens starting with byte b */
    bool byte_fallback, fuse_unk, ignore_merges;
    int32_t unk;           /* -1 if none */
    int32_t byte_tok[256]; /* "<0xXX>" in model.vocab, -1 if absent */
    uint8_t *in_model;     /* [n_vocab] 1 for model.vocab entries (added-only tokens are 0) */
    pre_spec spec;         /* t->pre: name "hf", ignore_merges, add_bos */
};

enum { STRIP_NONE, STRIP_WHOLE, STRIP_FIRST_TOKEN }; /* t->strip_space */

static const char *const NO_REGEXES[] = {NULL};

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

/* White_Space (Rust's char::is_whitespace), the set model/tokenizer.c spells as WS. */
static bool is_ws(uint32_t c) {
    return (c >= 9 && c <= 13) || c == ' ' || c == 0x85 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
           c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

/* Length of the UTF-8 character whose lead byte is b (the text is valid UTF-8 here). */
static size_t char_len(uint8_t b) { return b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4; }

/* The code point of the valid UTF-8 character ending just before s[i] (i > 0); its start in *start. */
static uint32_t prev_char(const char *s, size_t i, size_t *start) {
    size_t k = i - 1;
    while (k > 0 && ((uint8_t)s[k] & 0xc0) == 0x80) k--;
    uint32_t cp = 0;
    if (tk_utf8_decode((const uint8_t *)s, i, k, &cp) == 0) cp = 0xfffd;
    *start = k;
    return cp;
}

/* A piece of text in some buffer: [off, off + len); tok >= 0 for an added token; at0: it starts at
 * offset 0 of the original text (Metaspace's prepend_scheme "first"). */
typedef struct {
    size_t off, len;
    int32_t tok;
    bool at0;
} piece;

typedef struct {
    piece *p;
    size_t n, cap;
} pieces;

static void pieces_push(pieces *v, size_t off, size_t len, int32_t tok, bool at0) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->p = dam_realloc(v->p, v->cap * sizeof(piece), "tokenizer pieces");
    }
    v->p[v->n++] = (piece){off, len, tok, at0};
}

/* A match list entry: [off, off + len) and whether it is a match of the pattern. */
typedef struct {
    size_t off, len;
    bool match;
} mspan;

typedef struct {
    mspan *p;
    size_t n, cap;
} mspans;

static void mspans_push(mspans *v, size_t off, size_t len, bool match) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->p = dam_realloc(v->p, v->cap * sizeof(mspan), "tokenizer matches");
    }
    v->p[v->n++] = (mspan){off, len, match};
}

/* ---------------------------------------------------------------------------------------------
 * Splitting (NormalizedString::split)
 * ------------------------------------------------------------------------------------------- */

/* Matches of re in s[0..n) as the `onig` crate's find_iter yields them (an empty match right after
 * the previous match is skipped; after an empty match the search resumes one character on), turned
 * into the covering list of matched and unmatched spans (Pattern::find_matches). */
static void find_regex(const pcre2_code *re, pcre2_match_data *md, const char *s, size_t n, mspans *out) {
    out->n = 0;
    size_t prev = 0, from = 0;
    bool have_last = false;
    size_t last_end = 0;
    while (from <= n) {
        int rc = pcre2_match(re, (PCRE2_SPTR)s, n, from, 0, md, NULL);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) rc = pcre2_match(re, (PCRE2_SPTR)s, n, from, PCRE2_NO_JIT, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            dam_die(DAM_EXIT_RUNTIME, "tokenizer: pre-tokenizer regex match failed: %s", (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a = ov[0], b = ov[1];
        if (a == b && have_last && last_end == b) {
            from = b < n ? b + char_len((uint8_t)s[b]) : n + 1;
            continue;
        }
        if (a > prev) mspans_push(out, prev, a - prev, false);
        mspans_push(out, a, b - a, true);
        prev = b;
        have_last = true;
        last_end = b;
        from = a == b ? (b < n ? b + char_len((uint8_t)s[b]) : n + 1) : b;
    }
    if (prev < n) mspans_push(out, prev, n - prev, false);
}

/* Matches of the literal lit in s[0..n) (non-overlapping, left to right). */
static void find_literal(const char *lit, size_t ll, const char *s, size_t n, mspans *out) {
    out->n = 0;
    size_t prev = 0;
    const char *hit;
    while (prev < n && (hit = memmem(s + prev, n - prev, lit, ll)) != NULL) {
        size_t a = (size_t)(hit - s);
        if (a > prev) mspans_push(out, prev, a - prev, false);
        mspans_push(out, a, ll, true);
        prev = a + ll;
    }
    if (prev < n) mspans_push(out, prev, n - prev, false);
}

/* Applies a split behaviour to the covering match list m (in place, possibly inverted first) and
 * appends the kept, non-empty spans, offset by base, to out (at0 for the one at offset 0). */
static void apply_behavior(mspans *m, int behavior, bool invert, size_t base, bool at0, pieces *out) {
    if (invert)
        for (size_t i = 0; i < m->n; i++) m->p[i].match = !m->p[i].match;
    size_t k = 0; /* entries kept in m->p[0..k) after folding */
    bool prev_match = false;
    switch (behavior) {
    case BH_ISOLATED:
    case BH_REMOVED:
        k = m->n;
        break;
    case BH_CONTIGUOUS:
        for (size_t i = 0; i < m->n; i++) {
            mspan e = m->p[i];
            if (k > 0 && e.match == prev_match) m->p[k - 1].len = e.off + e.len - m->p[k - 1].off;
            else m->p[k++] = e;
            prev_match = e.match;
        }
        break;
    case BH_MERGED_PREV:
        for (size_t i = 0; i < m->n; i++) {
            mspan e = m->p[i];
            if (e.match && !prev_match && k > 0) m->p[k - 1].len = e.off + e.len - m->p[k - 1].off;
            else m->p[k++] = e;
            prev_match = e.match;
        }
        break;
    case BH_MERGED_NEXT: /* folded from the right */
        for (size_t i = m->n; i-- > 0;) {
            mspan e = m->p[i];
            size_t top = m->n - k; /* entries kept so far live in m->p[top .. n) */
            if (e.match && !prev_match && k > 0) {
                m->p[top].len = m->p[top].off + m->p[top].len - e.off;
                m->p[top].off = e.off;
            } else {
                m->p[top - 1] = e;
                k++;
            }
            prev_match = e.match;
        }
        memmove(m->p, m->p + (m->n - k), k * sizeof(mspan));
        break;
    }
    for (size_t i = 0; i < k; i++) {
        mspan e = m->p[i];
        if (e.len == 0 || (behavior == BH_REMOVED && e.match)) continue;
        pieces_push(out, base + e.off, e.len, -1, at0 && e.off == 0);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------------------------- */

/* Cuts the added tokens of one pass (normalized or not) out of text piece pc of buffer s, appending
 * the pieces to out (HF's AddedVocabulary::find_matches). */
static void cut_added(const struct hf_pipeline *h, const char *s, piece pc, bool normalized,
                      bool parse_special, pieces *out) {
    const char *text = s + pc.off;
    size_t n = pc.len, start_off = 0, i = 0;
    while (i < n) {
        const int *bk = h->bucket[normalized] + (uint8_t)text[i];
        const added_tok *hit = NULL;
        for (int k = bk[0]; k < bk[1]; k++) { /* longest first: the first that matches here */
            const added_tok *a = &h->added[k];
            size_t al = a->pat_len;
            if (al > n - i) continue;
            if (memcmp(text + i, a->pat, al) == 0) {
                hit = a;
                break;
            }
        }
        if (!hit) {
            i++;
            continue;
        }
        size_t a = i, b = i + hit->pat_len;
        i = b; /* the scan resumes after the match, whether or not it is used */
        if (hit->special && !parse_special) continue;
        if (hit->lstrip) {
            size_t k = a, st;
            while (k > 0 && is_ws(prev_char(text, k, &st))) k = st;
            a = k > start_off ? k : start_off;
        }
        if (hit->rstrip) {
            while (b < n) {
                uint32_t cp;
                size_t cl = tk_utf8_decode((const uint8_t *)text, n, b, &cp);
                if (cl == 0 || !is_ws(cp)) break;
                b += cl;
            }
        }
        if (a < start_off) a = start_off;
        if (start_off < a) pieces_push(out, pc.off + start_off, a - start_off, -1, pc.at0 && start_off == 0);
        pieces_push(out, pc.off + a, b - a, hit->id, false);
        start_off = b;
    }
    if (start_off < n) pieces_push(out, pc.off + start_off, n - start_off, -1, pc.at0 && start_off == 0);
}

/* Appends the normalized text of s[0..n) to b. */
static void normalize(const struct hf_pipeline *h, const char *s, size_t n, bytes_buf *b, bytes_buf *tmp) {
    tmp->n = 0;
    tk_bytes_put(tmp, s, n, "tokenizer text");
    for (int k = 0; k < h->n_norm; k++) {
        const norm_step *st = &h->norm[k];
        bytes_buf nx = {0};
        if (st->nfc) {
            nx.p = unicode_nfc(tmp->p ? tmp->p : "", tmp->n, &nx.n);
            nx.cap = nx.n + 1;
        } else if (st->from_len == 0) { /* Prepend, to non-empty text */
            if (tmp->n > 0) tk_bytes_put(&nx, st->to, st->to_len, "tokenizer text");
            tk_bytes_put(&nx, tmp->p, tmp->n, "tokenizer text");
        } else {
            size_t i = 0;
            const char *hit;
            while (i < tmp->n && (hit = memmem(tmp->p + i, tmp->n - i, st->from, st->from_len)) != NULL) {
                size_t a = (size_t)(hit - tmp->p);
                tk_bytes_put(&nx, tmp->p + i, a - i, "tokenizer text");
                tk_bytes_put(&nx, st->to, st->to_len, "tokenizer text");
                i = a + st->from_len;
            }
            if (i < tmp->n) tk_bytes_put(&nx, tmp->p + i, tmp->n - i, "tokenizer text");
        }
        dam_free(tmp->p);
        *tmp = nx;
    }
    tk_bytes_put(b, tmp->p ? tmp->p : "", tmp->n, "tokenizer text");
}

/* BPE of one pre-token s[0..n) (models/bpe/model.rs merge_word, then Word::merge_all). */
static void bpe(const tokenizer *t, const struct hf_pipeline *h, work *w, const char *s, size_t n, ids_buf *out) {
    if (n == 0) return;
    if (h->ignore_merges) {
        int32_t id = tk_token_find(t, s, n);
        if (id >= 0 && h->in_model[id]) {
            tk_ids_push(out, id);
            return;
        }
    }
    tk_work_reserve(w, n);
    size_t k = 0;
    int32_t unk_len = 0; /* pending unk symbol (its byte length), 0 if none */
    size_t unk_start = 0;
#define ADD_SYM(ID, START, LEN)                                                                                        \
    do {                                                                                                               \
        w->sid[k] = (ID);                                                                                              \
        w->sstart[k] = (uint32_t)(START);                                                                              \
        w->slen[k] = (uint32_t)(LEN);                                                                                  \
        k++;                                                                                                           \
    } while (0)
    for (size_t i = 0; i < n;) {
        size_t cl = char_len((uint8_t)s[i]);
        if (cl > n - i) cl = n - i;
        int32_t id = tk_token_find(t, s + i, cl);
        if (id >= 0 && h->in_model[id]) {
            if (unk_len) {
                ADD_SYM(h->unk, unk_start, unk_len);
                unk_len = 0;
            }
            ADD_SYM(id, i, 1 * cl);
        } else {
            bool bytes_ok = h->byte_fallback;
            for (size_t j = 0; j < cl && bytes_ok; j++) bytes_ok = h->byte_tok[(uint8_t)s[i + j]] >= 0;
            if (bytes_ok) { /* as upstream, a pending unk is not flushed before the byte tokens */
                for (size_t j = 0; j < cl; j++) ADD_SYM(h->byte_tok[(uint8_t)s[i + j]], i + j, 1);
            } else if (h->unk >= 0) {
                if (unk_len && h->fuse_unk) {
                    unk_len += (int32_t)cl;
                } else {
                    if (unk_len) ADD_SYM(h->unk, unk_start, unk_len);
                    unk_start = i;
                    unk_len = (int32_t)cl;
                }
            } /* else the character is dropped, as upstream does without unk_token */
        }
        i += cl;
    }
    if (unk_len) ADD_SYM(h->unk, unk_start, unk_len);
#undef ADD_SYM
    if (k == 0) return;
    for (size_t i = 0; i < k; i++) {
        w->prev[i] = (int32_t)i - 1;
        w->next[i] = i + 1 < k ? (int32_t)i + 1 : -1;
    }
    tk_bpe_merge(t, w, k);
    for (int32_t i = 0; i >= 0; i = w->next[i]) tk_ids_push(out, w->sid[i]);
}

/* Runs the pre-tokenizer steps on s[0..n) (at0 as for pieces) and BPEs every resulting pre-token. */
static void pretokenize_and_bpe(const tokenizer *t, const struct hf_pipeline *h, work *w, mspans *m,
                                const char *s, size_t n, bool at0, ids_buf *out) {
    bytes_buf cur = {0}, nxt = {0};
    pieces pc = {0}, np = {0};
    tk_bytes_put(&cur, s, n, "tokenizer text");
    pieces_push(&pc, 0, n, -1, at0);
    for (int k = 0; k < h->n_pre; k++) {
        const pre_step *st = &h->pre[k];
        np.n = 0;
        if (st->kind == STEP_SPLIT) {
            for (size_t i = 0; i < pc.n; i++) {
                find_regex(st->re, w->md, cur.p + pc.p[i].off, pc.p[i].len, m);
                apply_behavior(m, st->behavior, st->invert, pc.p[i].off, pc.p[i].at0, &np);
            }
        } else if (st->kind == STEP_BYTELEVEL) {
            nxt.n = 0;
            bytes_buf tmp = {0};
            pieces sub = {0};
            for (size_t i = 0; i < pc.n; i++) {
                tmp.n = 0;
                if (st->prefix_space && (pc.p[i].len == 0 || cur.p[pc.p[i].off] != ' '))
                    tk_bytes_put(&tmp, " ", 1, "tokenizer text");
                tk_bytes_put(&tmp, cur.p + pc.p[i].off, pc.p[i].len, "tokenizer text");
                sub.n = 0;
                if (st->re) {
                    find_regex(st->re, w->md, tmp.p, tmp.n, m);
                    apply_behavior(m, BH_ISOLATED, false, 0, pc.p[i].at0, &sub);
                } else if (tmp.n > 0) {
                    pieces_push(&sub, 0, tmp.n, -1, pc.p[i].at0);
                }
                for (size_t j = 0; j < sub.n; j++) { /* bytes to GPT-2's byte-level characters */
                    size_t off = nxt.n;
                    for (size_t q = sub.p[j].off; q < sub.p[j].off + sub.p[j].len; q++) {
                        uint8_t b = (uint8_t)tmp.p[q];
                        tk_bytes_put(&nxt, t->enc[b], t->enc_len[b], "tokenizer text");
                    }
                    pieces_push(&np, off, nxt.n - off, -1, sub.p[j].at0);
                }
            }
            dam_free(tmp.p);
            dam_free(sub.p);
            bytes_buf sw = cur;
            cur = nxt;
            nxt = sw;
        } else { /* STEP_METASPACE */
            nxt.n = 0;
            for (size_t i = 0; i < pc.n; i++) {
                size_t off = nxt.n;
                const char *p = cur.p + pc.p[i].off;
                size_t len = pc.p[i].len;
                /* replace first, then test the start (a leading ' ' has become the replacement) */
                bytes_buf rep = {0};
                for (size_t q = 0; q < len; q++)
                    if (p[q] == ' ') tk_bytes_put(&rep, st->repl, st->repl_len, "tokenizer text");
                    else tk_bytes_put(&rep, p + q, 1, "tokenizer text");
                bool starts = rep.n >= st->repl_len && memcmp(rep.p, st->repl, st->repl_len) == 0;
                bool pre = !starts && (st->scheme == PREPEND_ALWAYS || (st->scheme == PREPEND_FIRST && pc.p[i].at0));
                if (pre) tk_bytes_put(&nxt, st->repl, st->repl_len, "tokenizer text");
                tk_bytes_put(&nxt, rep.p ? rep.p : "", rep.n, "tokenizer text");
                dam_free(rep.p);
                size_t total = nxt.n - off;
                if (st->split) {
                    find_literal(st->repl, st->repl_len, nxt.p + off, total, m);
                    apply_behavior(m, BH_MERGED_NEXT, false, off, pc.p[i].at0, &np);
                } else if (total > 0) {
                    pieces_push(&np, off, total, -1, pc.p[i].at0);
                }
            }
            bytes_buf sw = cur;
            cur = nxt;
            nxt = sw;
        }
        pieces sw = pc;
        pc = np;
        np = sw;
    }
    for (size_t i = 0; i < pc.n; i++) bpe(t, h, w, cur.p + pc.p[i].off, pc.p[i].len, out);
    dam_free(cur.p);
    dam_free(nxt.p);
    dam_free(pc.p);
    dam_free(np.p);
}

int tk_hf_encode(const tokenizer *t, const char *text, size_t len, bool add_special, bool parse_special,
                 int32_t **ids) {
    const struct hf_pipeline *h = t->hf;
    ids_buf out = {0};
    if (add_special && t->add_bos && t->bos >= 0) tk_ids_push(&out, t->bos);

    /* Valid UTF-8: a byte that does not start a valid sequence (or a surrogate) becomes U+FFFD. */
    bytes_buf raw = {0};
    tk_bytes_reserve(&raw, 3 * len + 1, "tokenizer text");
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = tk_utf8_decode((const uint8_t *)text, len, i, &cp);
        if (k == 0 || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd, k = k ? k : 1;
        raw.n += tk_utf8_encode(cp, (uint8_t *)raw.p + raw.n);
        i += k;
    }

    pieces p1 = {0}, p2 = {0};
    if (raw.n > 0) cut_added(h, raw.p, (piece){0, raw.n, -1, true}, false, parse_special, &p1);
    bytes_buf norm = {0}, tmp = {0};
    for (size_t i = 0; i < p1.n; i++) {
        if (p1.p[i].tok >= 0) {
            pieces_push(&p2, 0, 0, p1.p[i].tok, false);
            continue;
        }
        size_t off = norm.n;
        normalize(h, raw.p + p1.p[i].off, p1.p[i].len, &norm, &tmp);
        if (norm.n > off) cut_added(h, norm.p, (piece){off, norm.n - off, -1, p1.p[i].at0}, true, parse_special, &p2);
    }

    work w;
    memset(&w, 0, sizeof w);
    w.md = pcre2_match_data_create(1, NULL);
    if (!w.md) dam_die(DAM_EXIT_RUNTIME, "out of memory allocating regex match data");
    mspans m = {0};
    for (size_t i = 0; i < p2.n; i++) {
        if (p2.p[i].tok >= 0) tk_ids_push(&out, p2.p[i].tok);
        else pretokenize_and_bpe(t, h, &w, &m, norm.p + p2.p[i].off, p2.p[i].len, p2.p[i].at0, &out);
    }
    if (add_special && t->add_eos && t->eos >= 0) tk_ids_push(&out, t->eos);

    tk_work_free(&w);
    dam_free(m.p);
    dam_free(raw.p);
    dam_free(norm.p);
    dam_free(tmp.p);
    dam_free(p1.p);
    dam_free(p2.p);
    if (out.n > (size_t)INT32_MAX) dam_die(DAM_EXIT_RUNTIME, "tokenizer: %zu tokens exceed the int range", out.n);
    *ids = out.p ? out.p : dam_malloc(0, "token ids");
    return (int)out.n;
}

void tk_hf_free(struct hf_pipeline *h) {
    if (!h) return;
    for (int i = 0; i < h->n_norm; i++) {
        dam_free(h->norm[i].from);
        dam_free(h->norm[i].to);
    }
    for (int i = 0; i < h->n_pre; i++) pcre2_code_free(h->pre[i].re);
    dam_free(h->norm);
    dam_free(h->pre);
    for (int i = 0; i < h->n_added; i++) dam_free(h->added[i].pat);
    dam_free(h->added);
    dam_free(h->in_model);
    dam_free(h);
}

/* ---------------------------------------------------------------------------------------------
 * JSON access with one-line errors naming the file and the key
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    const char *file; /* path for messages */
} jctx;

#define KP_MAX 256

/* Formats a key path into dst[KP_MAX] (truncated if longer). */
static void kp_fmt(char *dst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kp_fmt(char *dst, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, KP_MAX, fmt, ap);
    va_end(ap);
}

/* key path "parent.key" (or "key" at the top) */
static void kp_join(char *dst, const char *parent, const char *key) {
    if (parent[0]) kp_fmt(dst, "%s.%s", parent, key);
    else kp_fmt(dst, "%s", key);
}

static _Noreturn void jdie(const jctx *c, const char *kp, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static _Noreturn void jdie(const jctx *c, const char *kp, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dam_die(DAM_EXIT_INPUT, "%s: %s: %s", c->file, kp, msg);
}

static const char *jtype(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* o[key] (NULL if absent or null when !required; an error when required). */
static json_t *jget(const jctx *c, const json_t *o, const char *parent, const char *key, bool required) {
    json_t *v = json_object_get(o, key);
    if ((!v || json_is_null(v)) && required) {
        char kp[KP_MAX];
        kp_join(kp, parent, key);
        jdie(c, kp, "missing");
    }
    return v && !json_is_null(v) ? v : NULL;
}

static json_t *jobj(const jctx *c, const json_t *o, const char *parent, const char *key, bool required) {
    json_t *v = jget(c, o, parent, key, required);
    if (v && !json_is_object(v)) {
        char kp[KP_MAX];
        kp_join(kp, parent, key);
        jdie(c, kp, "is %s, expected an object", jtype(v));
    }
    return v;
}

static json_t *jarr(const jctx *c, const json_t *o, const char *parent, const char *key) {
    json_t *v = jget(c, o, parent, key, true);
    if (!json_is_array(v)) {
        char kp[KP_MAX];
        kp_join(kp, parent, key);
        jdie(c, kp, "is %s, expected an array", jtype(v));
    }
    return v;
}

/* A string value (NULL when absent / null and not required); its length (NUL bytes allowed) in *len. */
static const char *jstr(const jctx *c, const json_t *o, const char *parent, const char *key, bool required, size_t *len) {
    json_t *v = jget(c, o, parent, key, required);
    if (!v) return NULL;
    if (!json_is_string(v)) {
        char kp[KP_MAX];
        kp_join(kp, parent, key);
        jdie(c, kp, "is %s, expected a string", jtype(v));
    }
    if (len) *len = json_string_length(v);
    return json_string_value(v);
}

static bool jbool(const jctx *c, const json_t *o, const char *parent, const char *key, bool dflt) {
    json_t *v = jget(c, o, parent, key, false);
    if (!v) return dflt;
    if (!json_is_boolean(v)) {
        char kp[KP_MAX];
        kp_join(kp, parent, key);
        jdie(c, kp, "is %s, expected true or false", jtype(v));
    }
    return json_is_true(v);
}

static json_int_t jint(const jctx *c, const json_t *o, const char *parent, const char *key, json_int_t dflt) {
    json_t *v = jget(c, o, parent, key, false);
    if (!v) return dflt;
    if (!json_is_integer(v)) {
        char kp[KP_MAX];
        kp_join(kp, parent, key);
        jdie(c, kp, "is %s, expected an integer", jtype(v));
    }
    return json_integer_value(v);
}

/* The "type" of component o at key path kp. */
static const char *jcomp_type(const jctx *c, const json_t *o, const char *kp) { return jstr(c, o, kp, "type", true, NULL); }

/* Refuses every key of object o (at kp) that is not in the NULL-terminated list `known`. */
static void jknown(const jctx *c, const json_t *o, const char *kp, const char *const *known) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        bool ok = false;
        for (int i = 0; known[i] && !ok; i++) ok = strcmp(key, known[i]) == 0;
        if (!ok) {
            char k2[KP_MAX];
            kp_join(k2, kp, key);
            jdie(c, k2, "is not supported (unknown key of this %s)", jcomp_type(c, o, kp));
        }
    }
}

static json_t *jload(const char *path) {
    json_t *doc = json_file_load(path, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL);
    if (!json_is_object(doc)) dam_die(DAM_EXIT_INPUT, "%s: the top level is %s, expected an object", path, jtype(doc));
    return doc;
}

/* ---------------------------------------------------------------------------------------------
 * Regexes: Oniguruma patterns for PCRE2
 * ------------------------------------------------------------------------------------------- */

/* Rewrites the Oniguruma pattern src (at key path kp) for PCRE2: \p{L} \p{N} \p{P} with the Unicode
 * 15 additions, \s \S as White_Space; refuses \h \H and \S / \P{..} inside a class. */
static char *onig_to_pcre2(const jctx *c, const char *kp, const char *src, size_t n) {
    bytes_buf b = {0};
    int depth = 0; /* character class nesting */
    for (size_t i = 0; i < n; i++) {
        char ch = src[i];
        if (ch == '\\' && i + 1 < n) {
            char e = src[i + 1];
            if (e == 'h' || e == 'H') jdie(c, kp, "\\%c (a hex digit in Oniguruma, a space in PCRE2) is not supported", e);
            if (e == 's' || e == 'S') {
                if (depth && e == 'S') jdie(c, kp, "\\S inside a character class is not supported");
                const char *rep = depth ? WS : e == 's' ? "[" WS "]" : "[^" WS "]";
                tk_bytes_put(&b, rep, strlen(rep), "regex");
                i++;
                continue;
            }
            if ((e == 'p' || e == 'P') && i + 4 < n && src[i + 2] == '{' && src[i + 4] == '}' &&
                (src[i + 3] == 'L' || src[i + 3] == 'N' || src[i + 3] == 'P')) {
                const char *cls = src[i + 3] == 'L' ? LET : src[i + 3] == 'N' ? NUM : PUN;
                if (depth && e == 'P') jdie(c, kp, "\\P{%c} inside a character class is not supported", src[i + 3]);
                if (depth) {
                    tk_bytes_put(&b, cls, strlen(cls), "regex");
                } else {
                    tk_bytes_put(&b, e == 'p' ? "[" : "[^", e == 'p' ? 1 : 2, "regex");
                    tk_bytes_put(&b, cls, strlen(cls), "regex");
                    tk_bytes_put(&b, "]", 1, "regex");
                }
                i += 4;
                continue;
            }
            tk_bytes_put(&b, src + i, 2, "regex");
            i++;
            continue;
        }
        if (ch == '[') {
            if (depth && i + 1 < n && src[i + 1] == ':') { /* a POSIX class [:name:], copied whole */
                const char *end = i + 2 < n ? strstr(src + i + 2, ":]") : NULL;
                if (!end || (size_t)(end - src) >= n) jdie(c, kp, "an unterminated [: in a character class");
                tk_bytes_put(&b, src + i, (size_t)(end - src) + 2 - i, "regex");
                i = (size_t)(end - src) + 1;
                continue;
            }
            if (depth) jdie(c, kp, "a nested character class is not supported");
            if (!depth) {
                depth = 1;
                tk_bytes_put(&b, "[", 1, "regex");
                if (i + 1 < n && src[i + 1] == '^') {
                    tk_bytes_put(&b, "^", 1, "regex");
                    i++;
                }
                if (i + 1 < n && src[i + 1] == ']') { /* a literal ] first */
                    tk_bytes_put(&b, "]", 1, "regex");
                    i++;
                }
                continue;
            }
        } else if (ch == ']' && depth) {
            depth = 0;
        } else if (ch == '&' && depth && i + 1 < n && src[i + 1] == '&') {
            jdie(c, kp, "class intersection (&&) is not supported");
        }
        tk_bytes_put(&b, &ch, 1, "regex");
    }
    tk_bytes_put(&b, "", 1, "regex");
    return b.p;
}

static pcre2_code *compile_re(const jctx *c, const char *kp, const char *pattern, const char *orig) {
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        jdie(c, kp, "regex \"%.80s\" does not compile with PCRE2: %s", orig, (const char *)msg);
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

/* A literal, escaped for PCRE2 (\Q...\E cannot hold "\E"; quote every character instead). */
static pcre2_code *compile_literal(const jctx *c, const char *kp, const char *s, size_t n) {
    bytes_buf b = {0};
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (strchr("\\^$.|?*+()[]{}-/#", ch) && ch) tk_bytes_put(&b, "\\", 1, "regex");
        if (ch == 0) tk_bytes_put(&b, "\\x{0}", 5, "regex");
        else tk_bytes_put(&b, &ch, 1, "regex");
    }
    tk_bytes_put(&b, "", 1, "regex");
    pcre2_code *re = compile_re(c, kp, b.p, s);
    dam_free(b.p);
    return re;
}

/* GPT-2's pattern as ByteLevel(use_regex) applies it, in the spelling of model/tokenizer.c. */
#define RE_BYTELEVEL                                                                                                   \
    "'s|'t|'re|'ve|'m|'ll|'d| ?[" LET "]+| ?[" NUM "]+| ?[^" WS LET NUM "]+|[" WS "]+(?![^" WS "])|[" WS "]+"

/* ---------------------------------------------------------------------------------------------
 * Loading the components
 * ------------------------------------------------------------------------------------------- */

static void add_norm(const jctx *c, struct hf_pipeline *h, const json_t *o, const char *kp) {
    const char *type = jcomp_type(c, o, kp);
    norm_step st = {0};
    if (strcmp(type, "NFC") == 0) {
        static const char *const K[] = {"type", NULL};
        jknown(c, o, kp, K);
        st.nfc = true;
    } else if (strcmp(type, "Prepend") == 0) {
        static const char *const K[] = {"type", "prepend", NULL};
        jknown(c, o, kp, K);
        const char *s = jstr(c, o, kp, "prepend", true, &st.to_len);
        st.to = dam_malloc(st.to_len + 1, "normalizer");
        memcpy(st.to, s, st.to_len + 1);
    } else if (strcmp(type, "Replace") == 0) {
        static const char *const K[] = {"type", "pattern", "content", NULL};
        jknown(c, o, kp, K);
        char pk[KP_MAX];
        kp_join(pk, kp, "pattern");
        json_t *pat = jobj(c, o, kp, "pattern", true);
        if (!json_object_get(pat, "String"))
            jdie(c, pk, "only a {\"String\": ...} pattern is supported");
        const char *from = jstr(c, pat, pk, "String", true, &st.from_len);
        if (st.from_len == 0) jdie(c, pk, "the pattern is empty");
        const char *to = jstr(c, o, kp, "content", true, &st.to_len);
        st.from = dam_malloc(st.from_len + 1, "normalizer");
        memcpy(st.from, from, st.from_len + 1);
        st.to = dam_malloc(st.to_len + 1, "normalizer");
        memcpy(st.to, to, st.to_len + 1);
    } else {
        char tk[KP_MAX];
        kp_join(tk, kp, "type");
        jdie(c, tk, "normalizer \"%s\" is not supported (supported: NFC, Prepend, Replace, Sequence)", type);
    }
    h->norm = dam_realloc(h->norm, (size_t)(h->n_norm + 1) * sizeof(norm_step), "normalizers");
    h->norm[h->n_norm++] = st;
}

static int behavior_of(const jctx *c, const char *kp, const char *s) {
    static const char *const NAMES[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, NAMES[i]) == 0) return i;
    jdie(c, kp, "unknown behavior \"%s\"", s);
}

static void add_pre(const jctx *c, struct hf_pipeline *h, const json_t *o, const char *kp) {
    const char *type = jcomp_type(c, o, kp);
    pre_step st = {0};
    char sub[KP_MAX];
    if (strcmp(type, "Split") == 0) {
        static const char *const K[] = {"type", "pattern", "behavior", "invert", NULL};
        jknown(c, o, kp, K);
        st.kind = STEP_SPLIT;
        kp_join(sub, kp, "behavior");
        st.behavior = behavior_of(c, sub, jstr(c, o, kp, "behavior", true, NULL));
        st.invert = jbool(c, o, kp, "invert", false);
        kp_join(sub, kp, "pattern");
        json_t *pat = jobj(c, o, kp, "pattern", true);
        size_t n;
        if (json_object_get(pat, "Regex")) {
            char rk[KP_MAX];
            kp_join(rk, sub, "Regex");
            const char *src = jstr(c, pat, sub, "Regex", true, &n);
            char *conv = onig_to_pcre2(c, rk, src, n);
            st.re = compile_re(c, rk, conv, src);
            dam_free(conv);
        } else if (json_object_get(pat, "String")) {
            char rk[KP_MAX];
            kp_join(rk, sub, "String");
            const char *src = jstr(c, pat, sub, "String", true, &n);
            if (n == 0) jdie(c, rk, "the pattern is empty");
            st.re = compile_literal(c, rk, src, n);
        } else {
            jdie(c, sub, "expected {\"Regex\": ...} or {\"String\": ...}");
        }
    } else if (strcmp(type, "ByteLevel") == 0) {
        static const char *const K[] = {"type", "add_prefix_space", "trim_offsets", "use_regex", NULL};
        jknown(c, o, kp, K);
        st.kind = STEP_BYTELEVEL;
        st.prefix_space = jbool(c, o, kp, "add_prefix_space", true);
        (void)jbool(c, o, kp, "trim_offsets", true); /* offsets only */
        if (jbool(c, o, kp, "use_regex", true)) st.re = compile_re(c, kp, RE_BYTELEVEL, "ByteLevel");
    } else if (strcmp(type, "Digits") == 0) {
        static const char *const K[] = {"type", "individual_digits", NULL};
        jknown(c, o, kp, K);
        st.kind = STEP_SPLIT;
        st.behavior = jbool(c, o, kp, "individual_digits", false) ? BH_ISOLATED : BH_CONTIGUOUS;
        st.re = compile_re(c, kp, "[" NUM "]", "Digits"); /* Rust's char::is_numeric: \p{N} */
    } else if (strcmp(type, "Metaspace") == 0) {
        static const char *const K[] = {"type", "replacement", "prepend_scheme", "add_prefix_space", "split",
                                        "str_rep", NULL};
        jknown(c, o, kp, K);
        st.kind = STEP_METASPACE;
        size_t n;
        const char *r = jstr(c, o, kp, "replacement", true, &n);
        kp_join(sub, kp, "replacement");
        if (n == 0 || n > 4 || char_len((uint8_t)r[0]) != n) jdie(c, sub, "expected one character");
        memcpy(st.repl, r, n);
        st.repl_len = n;
        const char *scheme = jstr(c, o, kp, "prepend_scheme", false, NULL);
        if (scheme) {
            kp_join(sub, kp, "prepend_scheme");
            if (strcmp(scheme, "always") == 0) st.scheme = PREPEND_ALWAYS;
            else if (strcmp(scheme, "first") == 0) st.scheme = PREPEND_FIRST;
            else if (strcmp(scheme, "never") == 0) st.scheme = PREPEND_NEVER;
            else jdie(c, sub, "unknown prepend_scheme \"%s\" (always, first, never)", scheme);
        } else {
            st.scheme = jbool(c, o, kp, "add_prefix_space", true) ? PREPEND_ALWAYS : PREPEND_NEVER;
        }
        st.split = jbool(c, o, kp, "split", true);
    } else {
        kp_join(sub, kp, "type");
        jdie(c, sub, "pre-tokenizer \"%s\" is not supported (supported: Split, ByteLevel, Digits, Metaspace, Sequence)",
             type);
    }
    h->pre = dam_realloc(h->pre, (size_t)(h->n_pre + 1) * sizeof(pre_step), "pre-tokenizers");
    h->pre[h->n_pre++] = st;
}

/* Loads root[key]: null, one component, or a Sequence of them under list_key (not nested), each
 * through add (add_norm / add_pre). */
static void load_components(const jctx *c, struct hf_pipeline *h, const json_t *root, const char *key,
                            const char *list_key,
                            void (*add)(const jctx *, struct hf_pipeline *, const json_t *, const char *)) {
    json_t *o = jobj(c, root, "", key, false);
    if (!o) return;
    if (strcmp(jcomp_type(c, o, key), "Sequence") != 0) {
        add(c, h, o, key);
        return;
    }
    json_t *arr = jarr(c, o, key, list_key);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char kp[KP_MAX];
        kp_fmt(kp, "%s.%s[%zu]", key, list_key, i);
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e)) jdie(c, kp, "is %s, expected an object", jtype(e));
        if (strcmp(jcomp_type(c, e, kp), "Sequence") == 0) jdie(c, kp, "a nested Sequence is not supported");
        add(c, h, e, kp);
    }
}

/* Decoder -> how pieces are rendered. */
typedef struct {
    bool byte_level;          /* ByteLevel */
    const char *from, *to;    /* Replace (or Metaspace: replacement -> " ") */
    size_t from_len, to_len;
    bool byte_fallback;       /* ByteFallback */
    int strip;                /* STRIP_* */
} decoder_spec;

static void load_decoder(const jctx *c, const json_t *root, decoder_spec *d) {
    memset(d, 0, sizeof *d);
    json_t *o = jobj(c, root, "", "decoder", true);
    const char *type = jcomp_type(c, o, "decoder");
    if (strcmp(type, "ByteLevel") == 0) {
        d->byte_level = true;
        return;
    }
    if (strcmp(type, "Metaspace") == 0) {
        d->from = jstr(c, o, "decoder", "replacement", true, &d->from_len);
        if (d->from_len == 0 || d->from_len > 4) jdie(c, "decoder.replacement", "expected one character");
        d->to = " ";
        d->to_len = 1;
        const char *scheme = jstr(c, o, "decoder", "prepend_scheme", false, NULL);
        bool strip = scheme ? strcmp(scheme, "never") != 0 : jbool(c, o, "decoder", "add_prefix_space", true);
        d->strip = strip ? STRIP_FIRST_TOKEN : STRIP_NONE;
        return;
    }
    if (strcmp(type, "Sequence") != 0)
        jdie(c, "decoder.type", "decoder \"%s\" is not supported (supported: ByteLevel, Metaspace, Sequence of Replace, "
             "ByteFallback, Fuse, Strip)", type);
    json_t *arr = jarr(c, o, "decoder", "decoders");
    bool fused = false;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char kp[KP_MAX];
        kp_fmt(kp, "decoder.decoders[%zu]", i);
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e)) jdie(c, kp, "is %s, expected an object", jtype(e));
        const char *t = jcomp_type(c, e, kp);
        if (strcmp(t, "Replace") == 0 && !d->from && !fused) {
            char pk[KP_MAX];
            kp_join(pk, kp, "pattern");
            json_t *pat = jobj(c, e, kp, "pattern", true);
            if (!json_object_get(pat, "String")) jdie(c, pk, "only a {\"String\": ...} pattern is supported");
            d->from = jstr(c, pat, pk, "String", true, &d->from_len);
            d->to = jstr(c, e, kp, "content", true, &d->to_len);
            if (d->from_len == 0) jdie(c, pk, "the pattern is empty");
        } else if (strcmp(t, "ByteFallback") == 0 && !fused) {
            d->byte_fallback = true;
        } else if (strcmp(t, "Fuse") == 0) {
            fused = true;
        } else if (strcmp(t, "Strip") == 0 && fused && i + 1 == json_array_size(arr)) {
            size_t n;
            const char *content = jstr(c, e, kp, "content", true, &n);
            if (n != 1 || content[0] != ' ' || jint(c, e, kp, "start", 0) != 1 || jint(c, e, kp, "stop", 0) != 0)
                jdie(c, kp, "only Strip(content \" \", start 1, stop 0) is supported");
            d->strip = STRIP_WHOLE;
        } else {
            jdie(c, kp, "decoder \"%s\" here is not supported (supported: Replace, ByteFallback, then Fuse, then "
                 "Strip(\" \", 1, 0))", t);
        }
    }
}

/* Renders token text s[0..n) as the decoder does, into b. */
static void render(const decoder_spec *d, const char *s, size_t n, bytes_buf *b) {
    if (d->byte_level) {
        size_t start = b->n;
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            size_t k = tk_utf8_decode((const uint8_t *)s, n, i, &cp);
            int byte = k ? tk_cp_to_byte(cp) : -1;
            if (byte < 0) { /* a character outside the 256: the token stays as its text */
                b->n = start;
                tk_bytes_put(b, s, n, "tokenizer pieces");
                return;
            }
            char ch = (char)byte;
            tk_bytes_put(b, &ch, 1, "tokenizer pieces");
            i += k;
        }
        return;
    }
    if (d->byte_fallback && n == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>') {
        char hex[3] = {s[3], s[4], 0}, *end;
        long v = strtol(hex, &end, 16);
        if (*end == 0 && hex[0] != '+' && hex[0] != '-' && hex[0] != ' ') {
            char ch = (char)v;
            tk_bytes_put(b, &ch, 1, "tokenizer pieces");
            return;
        }
    }
    for (size_t i = 0; i < n;) {
        if (d->from && i + d->from_len <= n && memcmp(s + i, d->from, d->from_len) == 0) {
            tk_bytes_put(b, d->to, d->to_len, "tokenizer pieces");
            i += d->from_len;
        } else {
            tk_bytes_put(b, s + i, 1, "tokenizer pieces");
            i++;
        }
    }
}

/* Token id of the post-processor special token named `name` (TemplateProcessing.special_tokens). */
static int32_t template_special(const jctx *c, const json_t *tp, const char *kp, const char *name, int32_t n_vocab) {
    char sk[KP_MAX];
    kp_join(sk, kp, "special_tokens");
    json_t *sp = jobj(c, tp, kp, "special_tokens", true);
    json_t *e = jobj(c, sp, sk, name, true);
    char ek[KP_MAX];
    kp_join(ek, sk, name);
    json_t *ids = jarr(c, e, ek, "ids");
    if (json_array_size(ids) != 1 || !json_is_integer(json_array_get(ids, 0)))
        jdie(c, ek, "expected \"ids\" to hold one integer");
    json_int_t id = json_integer_value(json_array_get(ids, 0));
    if (id < 0 || id >= n_vocab) jdie(c, ek, "id %lld is outside the vocabulary", (long long)id);
    return (int32_t)id;
}

/* TemplateProcessing's single template: at most one special token before $A, at most one after. */
static void load_template(const jctx *c, const json_t *tp, const char *kp, int32_t n_vocab, int32_t *pre,
                          int32_t *post) {
    char sk[KP_MAX];
    kp_join(sk, kp, "single");
    json_t *single = jarr(c, tp, kp, "single");
    bool seen_a = false;
    for (size_t i = 0; i < json_array_size(single); i++) {
        char ik[KP_MAX];
        kp_fmt(ik, "%s[%zu]", sk, i);
        json_t *e = json_array_get(single, i);
        if (!json_is_object(e)) jdie(c, ik, "is %s, expected an object", jtype(e));
        json_t *seq = json_object_get(e, "Sequence"), *spt = json_object_get(e, "SpecialToken");
        if (seq) {
            const char *id = jstr(c, seq, ik, "id", true, NULL);
            if (strcmp(id, "A") != 0 || seen_a) jdie(c, ik, "only one $A sequence is supported");
            seen_a = true;
        } else if (spt) {
            char pk[KP_MAX];
            kp_join(pk, ik, "SpecialToken");
            const char *name = jstr(c, spt, pk, "id", true, NULL);
            int32_t id = template_special(c, tp, kp, name, n_vocab);
            int32_t *slot = seen_a ? post : pre;
            if (*slot >= 0) jdie(c, ik, "more than one special token %s $A is not supported", seen_a ? "after" : "before");
            *slot = id;
        } else {
            jdie(c, ik, "expected a Sequence or a SpecialToken");
        }
    }
    if (!seen_a) jdie(c, sk, "has no $A");
}

static void load_post(const jctx *c, const json_t *root, int32_t n_vocab, int32_t *pre, int32_t *post) {
    *pre = *post = -1;
    json_t *o = jobj(c, root, "", "post_processor", false);
    if (!o) return;
    const char *type = jcomp_type(c, o, "post_processor");
    if (strcmp(type, "ByteLevel") == 0) return;
    if (strcmp(type, "TemplateProcessing") == 0) {
        load_template(c, o, "post_processor", n_vocab, pre, post);
        return;
    }
    if (strcmp(type, "Sequence") != 0)
        jdie(c, "post_processor.type", "post-processor \"%s\" is not supported (supported: ByteLevel, "
             "TemplateProcessing, Sequence)", type);
    json_t *arr = jarr(c, o, "post_processor", "processors");
    bool have_template = false;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        char kp[KP_MAX];
        kp_fmt(kp, "post_processor.processors[%zu]", i);
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e)) jdie(c, kp, "is %s, expected an object", jtype(e));
        const char *t = jcomp_type(c, e, kp);
        if (strcmp(t, "ByteLevel") == 0) continue;
        if (strcmp(t, "TemplateProcessing") != 0 || have_template)
            jdie(c, kp, "post-processor \"%s\" here is not supported (supported: ByteLevel, one TemplateProcessing)", t);
        load_template(c, e, kp, n_vocab, pre, post);
        have_template = true;
    }
}

/* tokenizer_config.json's bos_token / eos_token: a string or {"content": ...}; NULL if absent. */
static const char *config_token(const jctx *c, const json_t *cfg, const char *key) {
    json_t *v = jget(c, cfg, "", key, false);
    if (!v) return NULL;
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_object(v)) return jstr(c, v, key, "content", true, NULL);
    jdie(c, key, "is %s, expected a string or an object with \"content\"", jtype(v));
}

/* ---------------------------------------------------------------------------------------------
 * tok_load_hf
 * ------------------------------------------------------------------------------------------- */

static char *path_join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = dam_malloc(n, "path");
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int cmp_added_len(const void *a, const void *b) {
    const added_tok *x = a, *y = b;
    if (x->normalized != y->normalized) return x->normalized ? 1 : -1;
    if (x->pat[0] != y->pat[0]) return (uint8_t)x->pat[0] < (uint8_t)y->pat[0] ? -1 : 1;
    if (x->pat_len != y->pat_len) return x->pat_len > y->pat_len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Text and origin of one id while the vocabulary is assembled. */
typedef struct {
    const char *s;
    size_t n;
    bool model, added;
} id_text;

tokenizer *tok_load_hf(const char *dir) {
    char *tpath = path_join(dir, "tokenizer.json");
    jctx cx = {tpath}, *c = &cx;
    json_t *root = jload(tpath);
    static const char *const TOP[] = {"version", "truncation", "padding", "added_tokens", "normalizer",
                                      "pre_tokenizer", "model", "post_processor", "decoder", NULL};
    {
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v) {
            bool ok = false;
            for (int i = 0; TOP[i] && !ok; i++) ok = strcmp(key, TOP[i]) == 0;
            if (!ok) jdie(c, key, "unknown top-level key");
        }
    }

    json_t *model = jobj(c, root, "", "model", true);
    const char *mtype = jstr(c, model, "model", "type", false, NULL);
    if (!mtype) jdie(c, "model.type", "missing (only BPE is supported)");
    if (strcmp(mtype, "BPE") != 0) jdie(c, "model.type", "\"%s\" is not supported (supported: BPE)", mtype);
    static const char *const MK[] = {"type", "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
                                     "fuse_unk", "byte_fallback", "ignore_merges", "vocab", "merges", NULL};
    jknown(c, model, "model", MK);
    if (jget(c, model, "model", "dropout", false)) jdie(c, "model.dropout", "BPE dropout is not supported (expected null)");
    const char *cs = jstr(c, model, "model", "continuing_subword_prefix", false, NULL);
    if (cs && cs[0]) jdie(c, "model.continuing_subword_prefix", "\"%s\" is not supported (expected null)", cs);
    const char *ew = jstr(c, model, "model", "end_of_word_suffix", false, NULL);
    if (ew && ew[0]) jdie(c, "model.end_of_word_suffix", "\"%s\" is not supported (expected null)", ew);

    /* Vocabulary: model.vocab and added_tokens, every id from 0 to the largest one exactly once. */
    json_t *vocab = jobj(c, model, "model", "vocab", true);
    json_t *added = jget(c, root, "", "added_tokens", false);
    if (added && !json_is_array(added)) jdie(c, "added_tokens", "is %s, expected an array", jtype(added));
    size_t n_added = added ? json_array_size(added) : 0;
    json_int_t max_id = -1;
    const char *key;
    json_t *v;
    json_object_foreach(vocab, key, v) {
        char kp[KP_MAX];
        kp_fmt(kp, "model.vocab[\"%.64s\"]", key);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= (1 << 30))
            jdie(c, kp, "expected an id from 0 to 2^30");
        if (json_integer_value(v) > max_id) max_id = json_integer_value(v);
    }
    for (size_t i = 0; i < n_added; i++) {
        char kp[KP_MAX];
        kp_fmt(kp, "added_tokens[%zu]", i);
        json_t *e = json_array_get(added, i);
        if (!json_is_object(e)) jdie(c, kp, "is %s, expected an object", jtype(e));
        json_int_t id = jint(c, e, kp, "id", -1);
        if (id < 0 || id >= (1 << 30)) jdie(c, kp, "missing or bad \"id\"");
        if (id > max_id) max_id = id;
    }
    if (max_id < 0) jdie(c, "model.vocab", "is empty");
    if ((size_t)max_id >= json_object_size(vocab) + n_added) /* some id below it has no token: refuse before allocating */
        jdie(c, "model.vocab", "the largest id is %lld but there are only %zu tokens (ids must run from 0 without a gap)",
             (long long)max_id, json_object_size(vocab) + n_added);
    int32_t n = (int32_t)(max_id + 1);
    id_text *ids = dam_calloc((size_t)n, sizeof(id_text), "tokenizer vocabulary");
    json_object_foreach(vocab, key, v) {
        int32_t id = (int32_t)json_integer_value(v);
        if (ids[id].model) jdie(c, "model.vocab", "id %d is given to \"%.64s\" and \"%.64s\"", id, ids[id].s, key);
        ids[id] = (id_text){key, strlen(key), true, false};
    }
    for (size_t i = 0; i < n_added; i++) {
        char kp[KP_MAX];
        kp_fmt(kp, "added_tokens[%zu]", i);
        json_t *e = json_array_get(added, i);
        int32_t id = (int32_t)jint(c, e, kp, "id", -1);
        size_t len;
        const char *s = jstr(c, e, kp, "content", true, &len);
        if (len == 0) jdie(c, kp, "content is empty");
        if (ids[id].added) jdie(c, kp, "id %d is already an added token", id);
        if (ids[id].model && (ids[id].n != len || memcmp(ids[id].s, s, len) != 0))
            jdie(c, kp, "id %d is \"%.64s\" in model.vocab but \"%.64s\" here", id, ids[id].s, s);
        ids[id].s = s;
        ids[id].n = len;
        ids[id].added = true;
    }

    tokenizer *t = dam_calloc(1, sizeof *t, "tokenizer");
    struct hf_pipeline *h = dam_calloc(1, sizeof *h, "tokenizer pipeline");
    t->hf = h;
    t->n_vocab = n;
    t->pre_name = dam_strdup("hf", "tokenizer");
    json_t *merges = jarr(c, model, "model", "merges");
    size_t n_merges = json_array_size(merges);
    size_t cap = 1024;
    while (cap < 4 * ((size_t)n + n_merges)) cap *= 2;
    t->smap = dam_calloc(cap, sizeof(uint32_t), "tokenizer string map");
    t->smap_mask = cap - 1;
    h->in_model = dam_calloc((size_t)n, 1, "tokenizer vocabulary");
    t->attr = dam_malloc((size_t)n, "tokenizer attributes");
    t->eog = dam_calloc((size_t)n, 1, "tokenizer attributes");
    for (int32_t i = 0; i < n; i++) {
        if (!ids[i].s) jdie(c, "model.vocab", "no token has id %d (ids must run from 0 to %d without a gap)", i, n - 1);
        int32_t dup = tk_str_find(t, ids[i].s, ids[i].n);
        if (dup >= 0) jdie(c, "model.vocab", "ids %d and %d have the same text \"%.64s\"", dup, i, ids[i].s);
        tk_str_add(t, ids[i].s, ids[i].n);
        h->in_model[i] = ids[i].model;
        t->attr[i] = ATTR_NORMAL;
    }

    /* Added tokens: flags, attributes, the longest-first list of the partition. */
    h->added = dam_malloc((n_added ? n_added : 1) * sizeof(added_tok), "tokenizer added tokens");
    for (size_t i = 0; i < n_added; i++) {
        char kp[KP_MAX];
        kp_fmt(kp, "added_tokens[%zu]", i);
        json_t *e = json_array_get(added, i);
        static const char *const AK[] = {"id", "content", "single_word", "lstrip", "rstrip", "normalized", "special",
                                         NULL};
        {
            const char *k2;
            json_t *v2;
            json_object_foreach(e, k2, v2) {
                bool ok = false;
                for (int q = 0; AK[q] && !ok; q++) ok = strcmp(k2, AK[q]) == 0;
                if (!ok) {
                    char kk[KP_MAX];
                    kp_join(kk, kp, k2);
                    jdie(c, kk, "unknown key of an added token");
                }
            }
        }
        added_tok a = {(int32_t)jint(c, e, kp, "id", -1), jbool(c, e, kp, "special", false), jbool(c, e, kp, "lstrip", false),
                       jbool(c, e, kp, "rstrip", false), jbool(c, e, kp, "normalized", false), NULL, 0};
        if (jbool(c, e, kp, "single_word", false)) {
            char kk[KP_MAX];
            kp_join(kk, kp, "single_word");
            jdie(c, kk, "true is not supported");
        }
        t->attr[a.id] = a.special ? ATTR_CONTROL : ATTR_USER_DEFINED;
        h->added[h->n_added++] = a;
    }

    /* Merges: rank = index; operands and their concatenation must be model.vocab tokens; a repeated
     * pair takes the later rank (upstream builds a hash map from the list). */
    size_t pcap = 1024;
    while (pcap < 2 * n_merges) pcap *= 2;
    t->pairs = dam_malloc(pcap * sizeof *t->pairs, "tokenizer merges");
    for (size_t i = 0; i < pcap; i++) t->pairs[i].key = UINT64_MAX;
    t->pmask = pcap - 1;
    bytes_buf cat = {0};
    for (size_t i = 0; i < n_merges; i++) {
        char kp[KP_MAX];
        kp_fmt(kp, "model.merges[%zu]", i);
        json_t *e = json_array_get(merges, i);
        const char *l, *r;
        size_t ll, rl;
        if (json_is_string(e)) {
            const char *s = json_string_value(e);
            size_t len = json_string_length(e);
            const char *sp = memchr(s, ' ', len);
            if (!sp || memchr(sp + 1, ' ', len - (size_t)(sp - s) - 1))
                jdie(c, kp, "\"%.64s\" is not two tokens separated by one space", s);
            l = s, ll = (size_t)(sp - s), r = sp + 1, rl = len - ll - 1;
        } else if (json_is_array(e) && json_array_size(e) == 2 && json_is_string(json_array_get(e, 0)) &&
                   json_is_string(json_array_get(e, 1))) {
            l = json_string_value(json_array_get(e, 0)), ll = json_string_length(json_array_get(e, 0));
            r = json_string_value(json_array_get(e, 1)), rl = json_string_length(json_array_get(e, 1));
        } else {
            jdie(c, kp, "is %s, expected \"a b\" or [\"a\", \"b\"]", jtype(e));
        }
        int32_t a = tk_token_find(t, l, ll), b = tk_token_find(t, r, rl);
        if (a < 0 || !h->in_model[a]) jdie(c, kp, "\"%.*s\" is not in model.vocab", (int)(ll > 64 ? 64 : ll), l);
        if (b < 0 || !h->in_model[b]) jdie(c, kp, "\"%.*s\" is not in model.vocab", (int)(rl > 64 ? 64 : rl), r);
        cat.n = 0;
        tk_bytes_put(&cat, l, ll, "tokenizer merges");
        tk_bytes_put(&cat, r, rl, "tokenizer merges");
        int32_t res = tk_token_find(t, cat.p, cat.n);
        if (res < 0 || !h->in_model[res])
            jdie(c, kp, "the merge result \"%.*s\" is not in model.vocab", (int)(cat.n > 64 ? 64 : cat.n), cat.p);
        size_t slot = tk_pair_slot(t, tk_pair_key(a, b));
        t->pairs[slot] = (struct merge_slot){tk_pair_key(a, b), (int32_t)i, res};
    }
    dam_free(cat.p);

    /* BPE options. */
    h->byte_fallback = jbool(c, model, "model", "byte_fallback", false);
    h->fuse_unk = jbool(c, model, "model", "fuse_unk", false);
    h->ignore_merges = jbool(c, model, "model", "ignore_merges", false);
    h->unk = -1;
    size_t ul;
    const char *unk = jstr(c, model, "model", "unk_token", false, &ul);
    if (unk) {
        h->unk = tk_token_find(t, unk, ul);
        if (h->unk < 0 || !h->in_model[h->unk]) jdie(c, "model.unk_token", "\"%.64s\" is not in model.vocab", unk);
    }
    for (int b = 0; b < 256; b++) {
        char hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        int32_t id = tk_token_find(t, hex, 6);
        h->byte_tok[b] = id >= 0 && h->in_model[id] ? id : -1;
        t->enc_len[b] = (uint8_t)tk_utf8_encode(tk_byte_to_cp(b), t->enc[b]);
        t->byte_sym[b] = -1;
        t->fallback[b][0] = t->fallback[b][1] = -1;
        t->spm_byte[b] = -1;
    }

    load_components(c, h, root, "normalizer", "normalizers", add_norm);
    bytes_buf nb = {0}, ntmp = {0};
    for (int k = 0; k < h->n_added; k++) {
        added_tok *a = &h->added[k];
        nb.n = 0;
        if (a->normalized) normalize(h, t->arena + t->str_off[a->id], t->str_len[a->id], &nb, &ntmp);
        else tk_bytes_put(&nb, t->arena + t->str_off[a->id], t->str_len[a->id], "tokenizer added tokens");
        a->pat = dam_malloc(nb.n + 1, "tokenizer added tokens");
        memcpy(a->pat, nb.p, nb.n);
        a->pat_len = nb.n;
    }
    dam_free(nb.p);
    dam_free(ntmp.p);
    qsort(h->added, (size_t)h->n_added, sizeof(added_tok), cmp_added_len);
    for (int p = 0; p < 2; p++) { /* bucket[p][b]: first index with (normalized, first byte) >= (p, b) */
        for (int b = 0; b <= 256; b++) {
            int k = 0;
            while (k < h->n_added && (h->added[k].normalized < p ||
                                      (h->added[k].normalized == p && (uint8_t)h->added[k].pat[0] < b)))
                k++;
            h->bucket[p][b] = k;
        }
    }
    load_components(c, h, root, "pre_tokenizer", "pretokenizers", add_pre);
    decoder_spec dec;
    load_decoder(c, root, &dec);
    int32_t post_pre, post_post;
    load_post(c, root, n, &post_pre, &post_post);
    {
        json_t *tr = jget(c, root, "", "truncation", false), *pad = jget(c, root, "", "padding", false);
        if (tr) jdie(c, "truncation", "is set; expected null (the harness sets lengths itself)");
        if (pad) jdie(c, "padding", "is set; expected null (the harness sets lengths itself)");
    }

    /* tokenizer_config.json (optional). */
    t->bos = post_pre;
    t->eos = post_post;
    t->add_bos = post_pre >= 0;
    t->add_eos = post_post >= 0;
    char *cpath = path_join(dir, "tokenizer_config.json");
    FILE *cf = fopen(cpath, "rb");
    if (cf) {
        fclose(cf);
        jctx cc = {cpath};
        json_t *cfg = jload(cpath);
        const char *names[2] = {config_token(&cc, cfg, "bos_token"), config_token(&cc, cfg, "eos_token")};
        int32_t *slots[2] = {&t->bos, &t->eos};
        const char *keys[2] = {"bos_token", "eos_token"};
        for (int k = 0; k < 2; k++) {
            if (!names[k]) continue;
            int32_t id = tk_token_find(t, names[k], strlen(names[k]));
            if (id < 0) jdie(&cc, keys[k], "\"%.64s\" is not a token of %s", names[k], tpath);
            *slots[k] = id;
        }
        t->add_bos = jbool(&cc, cfg, "", "add_bos_token", t->add_bos);
        t->add_eos = jbool(&cc, cfg, "", "add_eos_token", t->add_eos);
        if (t->add_bos && t->bos < 0) jdie(&cc, "add_bos_token", "is true but no BOS token is named");
        if (t->add_eos && t->eos < 0) jdie(&cc, "add_eos_token", "is true but no EOS token is named");
        json_decref(cfg);
    }
    dam_free(cpath);

    h->spec = (pre_spec){"hf", NO_REGEXES, false, h->ignore_merges, t->add_bos};
    t->pre = &h->spec;
    t->strip_space = dec.strip;
    if (dec.strip == STRIP_FIRST_TOKEN) {
        memcpy(t->strip_repl, dec.from, dec.from_len);
        t->strip_repl_len = dec.from_len;
    }
    /* EOG by text as for GGUF vocabularies, but only among added tokens (a plain vocabulary token
     * that spells "<|im_end|>" is text there); tokenizer.json's special flags set the attributes. */
    tk_load_special(t, NULL);
    for (int32_t i = 0; i < n; i++) {
        t->attr[i] = ATTR_NORMAL;
        if (!ids[i].added) t->eog[i] = 0;
    }
    for (int k = 0; k < h->n_added; k++)
        t->attr[h->added[k].id] = h->added[k].special ? ATTR_CONTROL : ATTR_USER_DEFINED;
    if (t->eos >= 0) t->eog[t->eos] = 1;
    t->special = dam_malloc(sizeof(int32_t), "tokenizer special tokens");

    /* Pieces as the decoder renders each token. */
    bytes_buf pb = {0};
    t->piece_off = dam_malloc((size_t)n * sizeof(uint32_t), "tokenizer pieces");
    t->piece_len = dam_malloc((size_t)n * sizeof(uint32_t), "tokenizer pieces");
    for (int32_t i = 0; i < n; i++) {
        size_t start = pb.n;
        render(&dec, t->arena + t->str_off[i], t->str_len[i], &pb);
        if (pb.n > UINT32_MAX) jdie(c, "model.vocab", "token texts exceed 4 GiB");
        t->piece_off[i] = (uint32_t)start;
        t->piece_len[i] = (uint32_t)(pb.n - start);
    }
    for (int k = 0; k < h->n_added; k++) { /* upstream decodes these as their normalized text */
        const added_tok *a = &h->added[k];
        if (!a->normalized) continue;
        size_t start = pb.n;
        render(&dec, a->pat, a->pat_len, &pb);
        if (pb.n > UINT32_MAX) jdie(c, "added_tokens", "token texts exceed 4 GiB");
        t->piece_off[a->id] = (uint32_t)start;
        t->piece_len[a->id] = (uint32_t)(pb.n - start);
    }
    t->pieces = pb.p ? pb.p : dam_malloc(1, "tokenizer pieces");

    dam_free(ids);
    json_decref(root);
    dam_free(tpath);
    return t;
}

char *tok_hf_chat_template(const char *dir) {
    char *path = path_join(dir, "tokenizer_config.json");
    FILE *f = fopen(path, "rb");
    if (!f) {
        dam_free(path);
        return NULL;
    }
    fclose(f);
    jctx cx = {path}, *c = &cx;
    json_t *cfg = jload(path);
    json_t *v = jget(c, cfg, "", "chat_template", false);
    char *out = NULL;
    if (v && json_is_string(v)) {
        out = dam_strdup(json_string_value(v), "chat template");
    } else if (v && json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && !out; i++) {
            char kp[KP_MAX];
            kp_fmt(kp, "chat_template[%zu]", i);
            json_t *e = json_array_get(v, i);
            if (!json_is_object(e)) jdie(c, kp, "is %s, expected {\"name\", \"template\"}", jtype(e));
            if (strcmp(jstr(c, e, kp, "name", true, NULL), "default") == 0)
                out = dam_strdup(jstr(c, e, kp, "template", true, NULL), "chat template");
        }
        if (!out) jdie(c, "chat_template", "the list has no template named \"default\"");
    } else if (v) {
        jdie(c, "chat_template", "is %s, expected a string or a list of {\"name\", \"template\"}", jtype(v));
    }
    json_decref(cfg);
    dam_free(path);
    return out;
}
