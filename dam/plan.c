/* plan.c — see plan.h. */
#include "dam/plan.h"

#include <string.h>

#include "core/mem.h"

maskplan *dam_plan(const dam_patterns *p, int layer, int q_head) {
    const dam_head *h = dam_patterns_head(p, layer, q_head);
    const int L = h->L, W = maskplan_bitmap_words(L); /* the head's own PCL */
    maskplan *mp = maskplan_new();

    uint64_t *bits = dam_malloc(sizeof(uint64_t) * (size_t)L * W, "DAM plan bitmap");
    memcpy(bits, h->mask, sizeof(uint64_t) * (size_t)L * W);
    for (int i = 0; i < L; i++) bits[(size_t)i * W + i / 64] |= 1ull << (i % 64); /* r = 0 always kept */
    maskplan_set_bitmap(mp, L, bits);
    dam_free(bits);

    int32_t *diags = dam_malloc(sizeof(int32_t) * ((size_t)h->n_diags + 1), "DAM plan diagonals");
    diags[0] = 0; /* R ∪ {0}; maskplan_set_diags sorts and removes the duplicate if 0 ∈ R */
    if (h->n_diags > 0) memcpy(diags + 1, h->diags, sizeof(int32_t) * h->n_diags);
    maskplan_set_diags(mp, diags, h->n_diags + 1);
    dam_free(diags);

    if (h->n_cols > 0) maskplan_set_cols(mp, h->cols, h->n_cols);
    return mp;
}
