/* evict.c — see evict.h. */
#include "dam/evict.h"

#include "core/mem.h"

/* Columns or the farthest diagonal (the first two conditions of evict.h). */
static bool reach_cols_diags(const maskplan *plan, int64_t pos, int64_t j) {
    int lo = 0, hi = plan->n_cols - 1; /* columns: binary search */
    while (lo <= hi) {
        const int mid = lo + (hi - lo) / 2;
        if (plan->cols[mid] == j) return true;
        if (plan->cols[mid] < j) lo = mid + 1;
        else hi = mid - 1;
    }
    /* row j + max R must lie after pos and outside the bitmap region */
    const int64_t L = plan->bitmap_L, first = pos + 1 > L ? pos + 1 : L;
    return plan->n_diags > 0 && j + plan->diags[plan->n_diags - 1] >= first;
}

bool dam_key_reachable(const maskplan *plan, int64_t pos, int64_t j) {
    if (plan == NULL || plan->dense || plan->n_qblocks > 0 || reach_cols_diags(plan, pos, j)) return true;
    const int64_t L = plan->bitmap_L;
    if (j < L) { /* later rows inside the bitmap region */
        const int words = maskplan_bitmap_words((int)L);
        for (int64_t p = pos + 1; p < L; p++)
            if ((plan->bitmap[p * words + j / 64] >> (j % 64)) & 1) return true;
    }
    return false;
}

void dam_evict_unreachable(const method *m, const evict_step *s, uint64_t *held) {
    (void)m;
    const int G = s->group;
    /* per head: everything kept, or the OR of the bitmap rows after pos (keys some later row of the
       bitmap region keeps) */
    bool *all = dam_malloc(sizeof(bool) * (size_t)G, "dam eviction");
    uint64_t **later = dam_malloc(sizeof(uint64_t *) * (size_t)G, "dam eviction");
    for (int h = 0; h < G; h++) {
        const maskplan *p = s->plans[h];
        all[h] = p == NULL || p->dense || p->n_qblocks > 0;
        later[h] = NULL;
        if (!all[h] && p->bitmap_L > s->pos + 1) {
            const int words = maskplan_bitmap_words(p->bitmap_L);
            later[h] = dam_calloc((size_t)words, sizeof(uint64_t), "dam eviction");
            for (int64_t r = s->pos + 1; r < p->bitmap_L; r++)
                for (int w = 0; w < words; w++) later[h][w] |= p->bitmap[r * words + w];
        }
    }
    for (int w = 0; w * 64 <= s->pos; w++) {
        uint64_t bits = held[w];
        if ((w + 1) * 64 > s->pos + 1) bits &= (1ull << (s->pos + 1 - w * 64)) - 1;
        for (; bits; bits &= bits - 1) {
            const int j = w * 64 + __builtin_ctzll(bits);
            bool reach = false;
            for (int h = 0; h < G && !reach; h++)
                reach = all[h] || reach_cols_diags(s->plans[h], s->pos, j) ||
                        (later[h] && j < s->plans[h]->bitmap_L && ((later[h][j / 64] >> (j % 64)) & 1));
            if (!reach) held[w] &= ~(1ull << (j % 64));
        }
    }
    for (int h = 0; h < G; h++) dam_free(later[h]);
    dam_free(later);
    dam_free(all);
}
