/* metrics_text.c — see metrics_text.h. Written from the behaviour of LongBench's metrics.py,
 * rouge==1.0.1 (rouge/rouge.py, rouge/rouge_score.py), fuzzywuzzy 0.18.0 (fuzz.py, utils.py) and
 * CPython's difflib.py; no code copied. */
#include "datasets/metrics_text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

/* ---- UTF-8 ------------------------------------------------------------------------------------ */

int text_utf8_decode(const char *s, uint32_t **out) {
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    uint32_t *cp = dam_malloc(sizeof(uint32_t) * (len + 1), "code points");
    int n = 0;
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        int need = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        uint32_t v = need == 0 ? c : need == 1 ? (c & 0x1F) : need == 2 ? (c & 0x0F) : (c & 0x07);
        bool ok = need >= 0;
        for (int k = 1; ok && k <= need; k++) {
            if (i + (size_t)k >= len || (p[i + k] & 0xC0) != 0x80) ok = false;
            else v = (v << 6) | (p[i + k] & 0x3F);
        }
        /* shortest form, no surrogates, at most U+10FFFF */
        if (ok && need == 1 && v < 0x80) ok = false;
        if (ok && need == 2 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF))) ok = false;
        if (ok && need == 3 && (v < 0x10000 || v > 0x10FFFF)) ok = false;
        if (ok) {
            cp[n++] = v;
            i += (size_t)need + 1;
        } else {
            cp[n++] = 0xFFFD;
            i += 1;
        }
    }
    *out = cp;
    return n;
}

char *text_utf8_encode(const uint32_t *cp, int n) {
    char *s = dam_malloc((size_t)n * 4 + 1, "utf-8 text");
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        uint32_t c = cp[i];
        if (c < 0x80) s[k++] = (char)c;
        else if (c < 0x800) s[k++] = (char)(0xC0 | (c >> 6)), s[k++] = (char)(0x80 | (c & 0x3F));
        else if (c < 0x10000) {
            s[k++] = (char)(0xE0 | (c >> 12));
            s[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
            s[k++] = (char)(0x80 | (c & 0x3F));
        } else {
            s[k++] = (char)(0xF0 | (c >> 18));
            s[k++] = (char)(0x80 | ((c >> 12) & 0x3F));
            s[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
            s[k++] = (char)(0x80 | (c & 0x3F));
        }
    }
    s[k] = 0;
    return s;
}

/* ---- character classes ----------------------------------------------------------------------- */

bool text_py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

uint32_t text_py_lower(uint32_t c) {
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c < 0xC0) return c;
    if (c <= 0xDE) return c == 0xD7 ? c : c + 32;                         /* Latin-1 (not ×) */
    if (c >= 0x100 && c <= 0x17F) {                                       /* Latin Extended-A */
        if (c == 0x178) return 0xFF;
        if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return (c % 2 == 0) ? c + 1 : c;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return (c % 2 == 1) ? c + 1 : c;
        return c;
    }
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;          /* Greek */
    if (c == 0x386) return 0x3AC;
    if (c >= 0x388 && c <= 0x38A) return c + 37;
    if (c == 0x38C) return 0x3CC;
    if (c == 0x38E || c == 0x38F) return c + 63;
    if (c >= 0x410 && c <= 0x42F) return c + 32;                          /* Cyrillic */
    if (c >= 0x400 && c <= 0x40F) return c + 80;
    if (c >= 0xFF21 && c <= 0xFF3A) return c + 32;                        /* fullwidth Latin */
    return c;
}

/* Python's string.punctuation. */
static bool ascii_punct(uint32_t c) { return c < 0x80 && c > 0x20 && c != 0x7F && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", (int)c); }

/* `cn_punctuation` of LongBench's (and LV-Eval's) normalize_zh_answer, quoted. */
static const char CN_PUNCT[] = "！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏.";

/* UTF-8 synchronises: a whole character's encoding occurs in CN_PUNCT only as one of its characters. */
static bool cn_punct(uint32_t c) {
    if (c < 0x80) return c == '.';
    char *enc = text_utf8_encode(&c, 1);
    bool in = strstr(CN_PUNCT, enc) != NULL;
    dam_free(enc);
    return in;
}

/* Python's Unicode \w, approximated: ASCII letters, digits, '_', and non-ASCII characters outside
 * the whitespace, punctuation and symbol ranges below. */
static bool word_char(uint32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (text_py_space(c) || c == 0xFFFD) return false;
    if (c >= 0x300 && c <= 0x36F) return false;  /* combining marks are not alphanumeric */
    if (c >= 0xA1 && c <= 0xBF) return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA || (c >= 0xBC && c <= 0xBE);
    if (c == 0xD7 || c == 0xF7) return false;
    if (c >= 0x2000 && c <= 0x206F) return false;  /* general punctuation */
    if (c >= 0x20A0 && c <= 0x20CF) return false;  /* currency */
    if (c >= 0x2190 && c <= 0x2BFF) return false;  /* arrows, math, technical, box, shapes, dingbats */
    if (c >= 0x3000 && c <= 0x303F) return c >= 0x3005 && c <= 0x3007;  /* CJK punctuation */
    if (c >= 0xFE30 && c <= 0xFE6F) return false;  /* CJK compatibility and small forms */
    if ((c >= 0xFF01 && c <= 0xFF0F) || (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) ||
        (c >= 0xFF5B && c <= 0xFF65)) return c == 0xFF3F;  /* fullwidth punctuation ('＿' is \w) */
    if (c >= 0x1F000 && c <= 0x1FAFF) return false;  /* emoji, symbols */
    return true;
}

/* ---- tokens ----------------------------------------------------------------------------------- */

void text_tokens_free(char **toks, int n) {
    for (int i = 0; i < n; i++) dam_free(toks[i]);
    dam_free(toks);
}

/* Appends code points [b, e) of cp as a new token. */
static void push_token(char ***toks, int *n, int *cap, const uint32_t *cp, int b, int e) {
    if (*n == *cap) *toks = dam_realloc(*toks, sizeof(char *) * (size_t)(*cap = *cap ? *cap * 2 : 16), "tokens");
    (*toks)[(*n)++] = text_utf8_encode(cp + b, e - b);
}

/* str.split() over code points. */
static int split_cps(const uint32_t *cp, int n, char ***toks) {
    char **t = NULL;
    int nt = 0, cap = 0;
    for (int i = 0; i < n;) {
        while (i < n && text_py_space(cp[i])) i++;
        int b = i;
        while (i < n && !text_py_space(cp[i])) i++;
        if (i > b) push_token(&t, &nt, &cap, cp, b, i);
    }
    *toks = t;
    return nt;
}

int text_split(const char *s, char ***toks) {
    uint32_t *cp;
    int n = text_utf8_decode(s, &cp);
    int nt = split_cps(cp, n, toks);
    dam_free(cp);
    return nt;
}

/* str.lower() of cp into a new array (U+0130 becomes 'i' U+0307, as in Python); length in *n. */
static uint32_t *lower_cps(const uint32_t *cp, int *n) {
    uint32_t *out = dam_malloc(sizeof(uint32_t) * (size_t)(2 * *n + 1), "lower-case text");
    int k = 0;
    for (int i = 0; i < *n; i++) {
        if (cp[i] == 0x130) out[k++] = 'i', out[k++] = 0x307;
        else out[k++] = text_py_lower(cp[i]);
    }
    *n = k;
    return out;
}

/* lower -> drop punctuation -> articles to spaces; frees cp, returns the new array (length in *len). */
static uint32_t *squad_cps(uint32_t *cp, int *len) {
    int n = *len, k = 0;
    uint32_t *low = lower_cps(cp, &n);
    dam_free(cp);
    cp = low;
    for (int i = 0; i < n; i++)
        if (!ascii_punct(cp[i])) cp[k++] = cp[i];
    n = k;
    /* re.sub(r"\b(a|an|the)\b", " "): matches are scanned on the unmodified text, left to right */
    uint32_t *out = dam_malloc(sizeof(uint32_t) * (size_t)(n + 1), "normalised text");
    k = 0;
    for (int i = 0; i < n;) {
        int len = 0;
        if (i == 0 || !word_char(cp[i - 1])) {
            static const char *const arts[] = {"a", "an", "the"};
            for (int a = 0; a < 3 && len == 0; a++) {
                int l = (int)strlen(arts[a]), ok = i + l <= n;
                for (int j = 0; ok && j < l; j++) ok = cp[i + j] == (uint32_t)arts[a][j];
                if (ok && (i + l == n || !word_char(cp[i + l]))) len = l;
            }
        }
        if (len) {
            out[k++] = ' ';
            i += len;
        } else {
            out[k++] = cp[i++];
        }
    }
    dam_free(cp);
    *len = k;
    return out;
}

int text_squad_tokens(const char *s, char ***toks) {
    uint32_t *cp;
    int n = text_utf8_decode(s, &cp);
    cp = squad_cps(cp, &n);
    int nt = split_cps(cp, n, toks);
    dam_free(cp);
    return nt;
}

char *text_norm_squad(const char *s) {
    char **t;
    int nt = text_squad_tokens(s, &t);
    size_t len = 1;
    for (int i = 0; i < nt; i++) len += strlen(t[i]) + 1;
    char *out = dam_malloc(len, "normalised text");
    out[0] = 0;
    size_t k = 0;
    for (int i = 0; i < nt; i++) {
        if (i) out[k++] = ' ';
        size_t l = strlen(t[i]);
        memcpy(out + k, t[i], l + 1);
        k += l;
    }
    text_tokens_free(t, nt);
    return out;
}

/* normalize_zh_answer; frees cp, returns the new array (length in *len). */
static uint32_t *zh_cps(uint32_t *cp, int *len) {
    int n = *len, k = 0;
    uint32_t *low = lower_cps(cp, &n);
    dam_free(cp);
    for (int i = 0; i < n; i++)
        if (!ascii_punct(low[i]) && !cn_punct(low[i]) && !text_py_space(low[i])) low[k++] = low[i];
    *len = k;
    return low;
}

char *text_norm_zh(const char *s) {
    uint32_t *cp;
    int n = text_utf8_decode(s, &cp);
    cp = zh_cps(cp, &n);
    char *out = text_utf8_encode(cp, n);
    dam_free(cp);
    return out;
}

int text_zh_char_tokens(const char *s, char ***toks) {
    uint32_t *cp;
    int n = text_utf8_decode(s, &cp);
    cp = zh_cps(cp, &n);
    char **t = NULL;
    int nt = 0, cap = 0;
    for (int i = 0; i < n; i++) push_token(&t, &nt, &cap, cp, i, i + 1);
    dam_free(cp);
    *toks = t;
    return nt;
}

/* ---- bag of tokens ---------------------------------------------------------------------------- */

static bool excluded(const char *t, const char *const *exclude) {
    for (int i = 0; exclude && exclude[i]; i++)
        if (strcmp(t, exclude[i]) == 0) return true;
    return false;
}

int text_common(char *const *a, int na, char *const *b, int nb, const char *const *exclude) {
    /* greedy one-to-one pairing of equal tokens = sum over tokens of min(count in a, count in b) */
    bool *used = dam_calloc((size_t)nb + 1, sizeof(bool), "token matches");
    int common = 0;
    for (int i = 0; i < na; i++) {
        if (excluded(a[i], exclude)) continue;
        for (int j = 0; j < nb; j++)
            if (!used[j] && strcmp(a[i], b[j]) == 0) {
                used[j] = true;
                common++;
                break;
            }
    }
    dam_free(used);
    return common;
}

double text_f1(char *const *pred, int np, char *const *gold, int ng) {
    int same = text_common(pred, np, gold, ng, NULL);
    if (same == 0) return 0.0;
    double precision = 1.0 * same / np, recall = 1.0 * same / ng;
    return (2 * precision * recall) / (precision + recall);
}

/* ---- ROUGE-L (rouge==1.0.1) ------------------------------------------------------------------- */

typedef struct {
    int n_sent;
    int *start;  /* [n_sent + 1] word offsets of each sentence */
    char **words;
    int n_words;
} sentences;

/* rouge.py: [" ".join(_.split()) for _ in text.split(".") if len(_) > 0], then split(" ") each. */
static sentences split_sentences(const char *text) {
    sentences s = {0, dam_malloc(sizeof(int), "sentences"), NULL, 0};
    s.start[0] = 0;
    int cap = 0;
    const char *p = text;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len > 0) {
            char *piece = dam_malloc(len + 1, "sentence");
            memcpy(piece, p, len);
            piece[len] = 0;
            char **w;
            int nw = text_split(piece, &w);
            dam_free(piece);
            if (nw == 0) { /* a piece of whitespace: the sentence "", whose split(" ") is [""] */
                w = dam_malloc(sizeof(char *), "words");
                w[0] = dam_strdup("", "word");
                nw = 1;
            }
            if (s.n_words + nw > cap) s.words = dam_realloc(s.words, sizeof(char *) * (size_t)(cap = (s.n_words + nw) * 2), "words");
            memcpy(s.words + s.n_words, w, sizeof(char *) * (size_t)nw);
            dam_free(w);
            s.n_words += nw;
            s.start = dam_realloc(s.start, sizeof(int) * (size_t)(s.n_sent + 2), "sentences");
            s.start[++s.n_sent] = s.n_words;
        }
        if (!dot) break;
        p = dot + 1;
    }
    return s;
}

static void sentences_free(sentences *s) {
    text_tokens_free(s->words, s->n_words);
    dam_free(s->start);
}

typedef struct {
    const char *w;
    int i;
} word_at;
static int cmp_word_at(const void *x, const void *y) {
    const word_at *a = x, *b = y;
    int c = strcmp(a->w, b->w);
    return c ? c : (a->i > b->i) - (a->i < b->i);
}

/* Word ids: equal strings get equal ids (0..*n_ids-1). Returns a dam_malloc'd int[n]. */
static int *intern(char *const *words, int n, int *n_ids) {
    word_at *order = dam_malloc(sizeof(word_at) * (size_t)(n + 1), "word order");
    int *id = dam_malloc(sizeof(int) * (size_t)(n + 1), "word ids");
    for (int i = 0; i < n; i++) order[i] = (word_at){words[i], i};
    qsort(order, (size_t)n, sizeof(word_at), cmp_word_at);
    int k = -1;
    for (int i = 0; i < n; i++) {
        if (i == 0 || strcmp(order[i].w, order[i - 1].w) != 0) k++;
        id[order[i].i] = k;
    }
    dam_free(order);
    *n_ids = k + 1;
    return id;
}

double text_rouge_l(const char *hyp, const char *ref) {
    sentences h = split_sentences(hyp), r = split_sentences(ref);
    double f = 0.0;
    if (h.n_sent > 0 && r.n_sent > 0) {
        /* one id space over the reference words, then the hypothesis words */
        int nw = r.n_words + h.n_words, n_ids;
        char **all = dam_malloc(sizeof(char *) * (size_t)(nw + 1), "words");
        memcpy(all, r.words, sizeof(char *) * (size_t)r.n_words);
        memcpy(all + r.n_words, h.words, sizeof(char *) * (size_t)h.n_words);
        int *id = intern(all, nw, &n_ids);
        dam_free(all);
        const int *rid = id, *hid = id + r.n_words;
        bool *in_ref = dam_calloc((size_t)n_ids + 1, 1, "word set"), *in_hyp = dam_calloc((size_t)n_ids + 1, 1, "word set");
        bool *in_u = dam_calloc((size_t)n_ids + 1, 1, "word set");
        int m = 0, n = 0, u = 0;
        for (int i = 0; i < r.n_words; i++) if (!in_ref[rid[i]]) in_ref[rid[i]] = true, m++;
        for (int i = 0; i < h.n_words; i++) if (!in_hyp[hid[i]]) in_hyp[hid[i]] = true, n++;
        for (int rs = 0; rs < r.n_sent; rs++)
            for (int hs = 0; hs < h.n_sent; hs++) {
                const int *x = rid + r.start[rs], *y = hid + h.start[hs];
                const int lx = r.start[rs + 1] - r.start[rs], ly = h.start[hs + 1] - h.start[hs], W = ly + 1;
                int *t = dam_calloc((size_t)(lx + 1) * (size_t)W, sizeof(int), "LCS table");
                for (int i = 1; i <= lx; i++)
                    for (int j = 1; j <= ly; j++)
                        t[i * W + j] = x[i - 1] == y[j - 1] ? t[(i - 1) * W + j - 1] + 1
                                                            : (t[(i - 1) * W + j] > t[i * W + j - 1] ? t[(i - 1) * W + j] : t[i * W + j - 1]);
                for (int i = lx, j = ly; i > 0 && j > 0;) {
                    if (x[i - 1] == y[j - 1]) {
                        if (!in_u[x[i - 1]]) in_u[x[i - 1]] = true, u++;
                        i--, j--;
                    } else if (t[(i - 1) * W + j] > t[i * W + j - 1]) i--;
                    else j--;
                }
                dam_free(t);
            }
        double rl = (double)u / m, pl = (double)u / n;
        f = 2.0 * ((pl * rl) / (pl + rl + 1e-8));
        dam_free(id);
        dam_free(in_ref);
        dam_free(in_hyp);
        dam_free(in_u);
    }
    sentences_free(&h);
    sentences_free(&r);
    return f;
}

/* ---- difflib / fuzzywuzzy --------------------------------------------------------------------- */

typedef struct {
    const uint32_t *a, *b;
    int la, lb;
    int *pos;          /* positions of b sorted by (char, position), popular chars left out */
    int n_pos;
    int *len[2];       /* j2len of the previous / current row, valid where stamp matches */
    long long *stamp[2];
    long long clock;   /* row stamps are unique across calls */
} matcher;

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* First index in m->pos of character c (or n_pos). */
static int first_pos(const matcher *m, uint32_t c) {
    int lo = 0, hi = m->n_pos;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (m->b[m->pos[mid]] < c) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* difflib find_longest_match(alo, ahi, blo, bhi) without junk (isjunk is None). */
static void longest_match(matcher *m, int alo, int ahi, int blo, int bhi, int *bi, int *bj, int *bk) {
    int besti = alo, bestj = blo, best = 0;
    long long prev_row = -1;
    for (int i = alo; i < ahi; i++) {
        long long row = ++m->clock;
        int cur = (int)(row & 1), prv = cur ^ 1;
        for (int p = first_pos(m, m->a[i]); p < m->n_pos && m->b[m->pos[p]] == m->a[i]; p++) {
            int j = m->pos[p];
            if (j < blo) continue;
            if (j >= bhi) break;
            int k = (j > 0 && m->stamp[prv][j - 1] == prev_row ? m->len[prv][j - 1] : 0) + 1;
            m->len[cur][j] = k;
            m->stamp[cur][j] = row;
            if (k > best) besti = i - k + 1, bestj = j - k + 1, best = k;
        }
        prev_row = row;
    }
    while (besti > alo && bestj > blo && m->a[besti - 1] == m->b[bestj - 1]) besti--, bestj--, best++;
    while (besti + best < ahi && bestj + best < bhi && m->a[besti + best] == m->b[bestj + best]) best++;
    *bi = besti, *bj = bestj, *bk = best;
}

static double seq_ratio_cps(const uint32_t *a, int la, const uint32_t *b, int lb) {
    if (la + lb == 0) return 1.0;
    matcher m = {a, b, la, lb, dam_malloc(sizeof(int) * (size_t)(lb + 1), "b positions"), 0,
                 {dam_malloc(sizeof(int) * (size_t)(lb + 1), "j2len"), dam_malloc(sizeof(int) * (size_t)(lb + 1), "j2len")},
                 {dam_malloc(sizeof(long long) * (size_t)(lb + 1), "j2len"), dam_malloc(sizeof(long long) * (size_t)(lb + 1), "j2len")},
                 0};
    for (int j = 0; j < lb; j++) m.stamp[0][j] = m.stamp[1][j] = -2;
    /* b's positions by (character, position) */
    uint64_t *all = dam_malloc(sizeof(uint64_t) * (size_t)(lb + 1), "b positions");
    for (int j = 0; j < lb; j++) all[j] = (uint64_t)b[j] << 32 | (uint32_t)j;
    qsort(all, (size_t)lb, sizeof(uint64_t), cmp_u64);
    /* autojunk: with len(b) >= 200, characters occurring more than len(b)/100 + 1 times are popular */
    const int ntest = lb / 100 + 1;
    for (int s = 0; s < lb;) {
        int e = s;
        while (e < lb && all[e] >> 32 == all[s] >> 32) e++;
        if (!(lb >= 200 && e - s > ntest))
            for (int k = s; k < e; k++) m.pos[m.n_pos++] = (int)(uint32_t)all[k];
        s = e;
    }
    dam_free(all);
    /* get_matching_blocks: a stack of (alo, ahi, blo, bhi) */
    int cap = 64, top = 0, matched = 0;
    int *stack = dam_malloc(sizeof(int) * 4 * (size_t)cap, "match queue");
    stack[0] = 0, stack[1] = la, stack[2] = 0, stack[3] = lb, top = 1;
    while (top > 0) {
        top--;
        int alo = stack[4 * top], ahi = stack[4 * top + 1], blo = stack[4 * top + 2], bhi = stack[4 * top + 3];
        int i, j, k;
        longest_match(&m, alo, ahi, blo, bhi, &i, &j, &k);
        if (k == 0) continue;
        matched += k;
        if (top + 2 > cap) stack = dam_realloc(stack, sizeof(int) * 4 * (size_t)(cap *= 2), "match queue");
        if (alo < i && blo < j) {
            int *q = stack + 4 * top++;
            q[0] = alo, q[1] = i, q[2] = blo, q[3] = j;
        }
        if (i + k < ahi && j + k < bhi) {
            int *q = stack + 4 * top++;
            q[0] = i + k, q[1] = ahi, q[2] = j + k, q[3] = bhi;
        }
    }
    dam_free(stack);
    dam_free(m.pos);
    for (int z = 0; z < 2; z++) dam_free(m.len[z]), dam_free(m.stamp[z]);
    return 2.0 * matched / (la + lb);
}

double text_seq_ratio(const char *a, const char *b) {
    uint32_t *ca, *cb;
    int la = text_utf8_decode(a, &ca), lb = text_utf8_decode(b, &cb);
    double r = seq_ratio_cps(ca, la, cb, lb);
    dam_free(ca);
    dam_free(cb);
    return r;
}

int text_fuzz_ratio(const char *a, const char *b) {
    if (strcmp(a, b) == 0) return 100;
    if (*a == 0 || *b == 0) return 0;
    return (int)nearbyint(100 * text_seq_ratio(a, b)); /* round half to even, as Python's round */
}

/* ---- numbers ---------------------------------------------------------------------------------- */

int text_digit_runs(const char *s, char ***runs) {
    char **r = NULL;
    int n = 0, cap = 0;
    for (const char *p = s; *p;) {
        if (*p < '0' || *p > '9') {
            p++;
            continue;
        }
        const char *b = p;
        while (*p >= '0' && *p <= '9') p++;
        if (n == cap) r = dam_realloc(r, sizeof(char *) * (size_t)(cap = cap ? cap * 2 : 8), "digit runs");
        char *t = dam_malloc((size_t)(p - b) + 1, "digit run");
        memcpy(t, b, (size_t)(p - b));
        t[p - b] = 0;
        r[n++] = t;
    }
    *runs = r;
    return n;
}
