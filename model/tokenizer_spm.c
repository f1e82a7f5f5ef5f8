/* tokenizer_spm.c — see tokenizer_spm.h. */
#include "model/tokenizer_spm.h"

#include "core/mem.h"

/* One queued merge: symbols left and right, the merged token's score, and the merged length, which
 * identifies a stale entry (a side merged since: its length changed or became 0). */
typedef struct {
    float score;
    int32_t left, right;
    uint32_t size;
    int32_t tok;
} spm_pair;

typedef struct {
    const char *text;
    uint32_t *off, *n; /* symbol byte offset and length (0: merged away) */
    int32_t *prev, *next;
    spm_pair *heap;
    size_t heap_n, heap_cap;
    spm_find_fn find;
    const void *ctx;
    const float *scores;
} spm_work;

/* Max-heap order: higher score first, then smaller left index (llama.cpp's comparator). */
static int pair_before(const spm_pair *a, const spm_pair *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(spm_work *w, spm_pair p) {
    if (w->heap_n == w->heap_cap) {
        w->heap_cap = w->heap_cap ? 2 * w->heap_cap : 256;
        w->heap = dam_realloc(w->heap, w->heap_cap * sizeof(spm_pair), "tokenizer SPM queue");
    }
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_before(&p, &w->heap[parent])) break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = p;
}

static spm_pair heap_pop(spm_work *w) {
    spm_pair top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && pair_before(&w->heap[c + 1], &w->heap[c])) c++;
        if (!pair_before(&w->heap[c], &last)) break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n > 0) w->heap[i] = last;
    return top;
}

/* Queues the merge of symbols l and r if their concatenation is a token. */
static void try_pair(spm_work *w, int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    uint32_t size = w->n[l] + w->n[r];
    int32_t tok = w->find(w->ctx, w->text + w->off[l], size);
    if (tok < 0) return;
    heap_push(w, (spm_pair){w->scores[tok], l, r, size, tok});
}

static uint32_t utf8_len_of_lead(unsigned char b) {
    static const uint8_t LEN[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return LEN[b >> 4];
}

size_t spm_segment(const char *text, size_t n, spm_find_fn find, const void *ctx, const float *scores,
                   uint32_t *start, uint32_t *len, int32_t *id) {
    if (n == 0) return 0;
    spm_work w = {text, NULL, NULL, NULL, NULL, NULL, 0, 0, find, ctx, scores};
    w.off = dam_malloc(n * sizeof(uint32_t), "tokenizer SPM symbols");
    w.n = dam_malloc(n * sizeof(uint32_t), "tokenizer SPM symbols");
    w.prev = dam_malloc(n * sizeof(int32_t), "tokenizer SPM symbols");
    w.next = dam_malloc(n * sizeof(int32_t), "tokenizer SPM symbols");
    int32_t n_sym = 0;
    for (size_t o = 0; o < n; n_sym++) {
        uint32_t k = utf8_len_of_lead((unsigned char)text[o]);
        if (k > n - o) k = (uint32_t)(n - o);
        w.off[n_sym] = (uint32_t)o;
        w.n[n_sym] = k;
        w.prev[n_sym] = n_sym - 1;
        o += k;
        w.next[n_sym] = o == n ? -1 : n_sym + 1;
    }
    for (int32_t i = 1; i < n_sym; i++) try_pair(&w, i - 1, i);
    while (w.heap_n > 0) {
        spm_pair p = heap_pop(&w);
        if (w.n[p.left] == 0 || w.n[p.right] == 0 || w.n[p.left] + w.n[p.right] != p.size) continue;
        w.n[p.left] += w.n[p.right]; /* merge right into left */
        w.n[p.right] = 0;
        w.next[p.left] = w.next[p.right];
        if (w.next[p.right] >= 0) w.prev[w.next[p.right]] = p.left;
        try_pair(&w, w.prev[p.left], p.left);
        try_pair(&w, p.left, w.next[p.left]);
    }
    size_t out = 0;
    for (int32_t i = 0; i >= 0; i = w.next[i]) {
        start[out] = w.off[i];
        len[out] = w.n[i];
        id[out] = find(ctx, text + w.off[i], w.n[i]);
        out++;
    }
    dam_free(w.off);
    dam_free(w.n);
    dam_free(w.prev);
    dam_free(w.next);
    dam_free(w.heap);
    return out;
}
