/* unicode_nfc.c — NFC (see unicode_nfc.h). Follows UAX #15 section 1.3 / Unicode chapter 3.11: full
 * canonical decomposition, then the canonical ordering of every run of non-starters (stable by
 * combining class), then composition: a character combines with the last starter when no character
 * between them has class 0 or a class >= its own. */
#include "model/unicode_nfc.h"

#include <stdint.h>
#include <string.h>

#include "core/mem.h"
#include "model/unicode_nfc_tables.h"

enum { S_BASE = 0xAC00, L_BASE = 0x1100, V_BASE = 0x1161, T_BASE = 0x11A7, L_COUNT = 19, V_COUNT = 21, T_COUNT = 28,
       N_COUNT = V_COUNT * T_COUNT, S_COUNT = L_COUNT * N_COUNT };

const char *unicode_nfc_version(void) { return NFC_UNICODE_VERSION; }

static int ccc_of(uint32_t c) {
    size_t lo = 0, hi = sizeof NFC_CCC / sizeof NFC_CCC[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (NFC_CCC[mid].cp == c) return NFC_CCC[mid].ccc;
        if (NFC_CCC[mid].cp < c) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

/* Index of c in NFC_DECOMP, or -1. */
static long decomp_of(uint32_t c) {
    size_t lo = 0, hi = sizeof NFC_DECOMP / sizeof NFC_DECOMP[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (NFC_DECOMP[mid].cp == c) return (long)mid;
        if (NFC_DECOMP[mid].cp < c) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* The primary composite of (a, b), or 0. */
static uint32_t compose(uint32_t a, uint32_t b) {
    if (a >= L_BASE && a < L_BASE + L_COUNT && b >= V_BASE && b < V_BASE + V_COUNT)
        return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
    if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % T_COUNT == 0 && b > T_BASE && b < T_BASE + T_COUNT)
        return a + (b - T_BASE);
    size_t lo = 0, hi = sizeof NFC_COMPOSE / sizeof NFC_COMPOSE[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const uint32_t f = NFC_COMPOSE[mid].first, s = NFC_COMPOSE[mid].second;
        if (f == a && s == b) return NFC_COMPOSE[mid].composite;
        if (f < a || (f == a && s < b)) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

typedef struct {
    uint32_t *p;
    size_t n, cap;
} cps;

static void push(cps *v, uint32_t c) {
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 256;
        v->p = dam_realloc(v->p, v->cap * sizeof(uint32_t), "NFC code points");
    }
    v->p[v->n++] = c;
}

static void decompose(uint32_t c, cps *out) {
    if (c >= S_BASE && c < S_BASE + S_COUNT) {
        uint32_t s = c - S_BASE;
        push(out, L_BASE + s / N_COUNT);
        push(out, V_BASE + (s % N_COUNT) / T_COUNT);
        if (s % T_COUNT) push(out, T_BASE + s % T_COUNT);
        return;
    }
    long k = decomp_of(c);
    if (k < 0) {
        push(out, c);
        return;
    }
    for (int i = 0; i < NFC_DECOMP[k].len; i++) push(out, NFC_POOL[NFC_DECOMP[k].off + i]);
}

char *unicode_nfc(const char *s, size_t n, size_t *out_n) {
    size_t i = 0;
    while (i < n && (uint8_t)s[i] < 0xcc) i++; /* 0xCC leads U+0300..U+033F: all below is stable */
    if (i == n) {
        char *o = dam_malloc(n + 1, "NFC text");
        memcpy(o, s, n);
        *out_n = n;
        return o;
    }
    cps d = {0};
    for (i = 0; i < n;) { /* decode (valid UTF-8) and decompose */
        uint8_t b = (uint8_t)s[i];
        uint32_t c;
        size_t k = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
        if (k > n - i) k = n - i;
        c = k == 1 ? b : k == 2 ? b & 0x1f : k == 3 ? b & 0x0f : b & 0x07;
        for (size_t j = 1; j < k; j++) c = (c << 6) | ((uint8_t)s[i + j] & 0x3f);
        decompose(c, &d);
        i += k;
    }
    int *cc = dam_malloc((d.n ? d.n : 1) * sizeof(int), "NFC classes");
    for (size_t k = 0; k < d.n; k++) cc[k] = ccc_of(d.p[k]);
    for (size_t k = 1; k < d.n; k++) /* canonical ordering: insertion sort within non-starter runs */
        for (size_t j = k; j > 0 && cc[j] != 0 && cc[j - 1] > cc[j]; j--) {
            uint32_t t = d.p[j];
            d.p[j] = d.p[j - 1];
            d.p[j - 1] = t;
            int tc = cc[j];
            cc[j] = cc[j - 1];
            cc[j - 1] = tc;
        }
    size_t m = 0;       /* composed length (in place: m <= k) */
    long starter = -1;  /* index of the last starter in the composed part */
    int last = -1;      /* class of the last character kept after that starter; -1: none */
    for (size_t k = 0; k < d.n; k++) {
        uint32_t c = d.p[k];
        int cl = cc[k];
        if (starter >= 0 && (last == -1 || (last != 0 && last < cl))) {
            uint32_t comp = compose(d.p[starter], c);
            if (comp) {
                d.p[starter] = comp;
                continue;
            }
        }
        if (cl == 0) {
            starter = (long)m;
            last = -1;
        } else {
            last = cl;
        }
        d.p[m++] = c;
    }
    char *o = dam_malloc(4 * m + 1, "NFC text");
    size_t len = 0;
    for (size_t k = 0; k < m; k++) {
        uint32_t c = d.p[k];
        if (c < 0x80) {
            o[len++] = (char)c;
        } else if (c < 0x800) {
            o[len++] = (char)(0xc0 | (c >> 6));
            o[len++] = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            o[len++] = (char)(0xe0 | (c >> 12));
            o[len++] = (char)(0x80 | ((c >> 6) & 0x3f));
            o[len++] = (char)(0x80 | (c & 0x3f));
        } else {
            o[len++] = (char)(0xf0 | (c >> 18));
            o[len++] = (char)(0x80 | ((c >> 12) & 0x3f));
            o[len++] = (char)(0x80 | ((c >> 6) & 0x3f));
            o[len++] = (char)(0x80 | (c & 0x3f));
        }
    }
    dam_free(d.p);
    dam_free(cc);
    *out_n = len;
    return o;
}
