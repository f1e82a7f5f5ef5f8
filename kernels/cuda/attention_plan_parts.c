/* attention_plan_parts.c — the host half of the GPU list build: the plans' parts as the bit words
 * attention_plan_gpu.cu reads (declared in attention_plan_gpu.h). Plain C with OpenMP over heads, no
 * CUDA call, so it is built into every libdam and tested without a GPU (tests/cuda/test_plan_host.c). */
#include "kernels/cuda/attention_plan_gpu.h"

#include <omp.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

/* The staging buffer, kept across calls (fresh memory costs its page faults, ~1 ms per MB); one
 * host thread drives the device (cuda_mem.h), so no lock. */
static unsigned char *stage;
static size_t stage_cap;

const unsigned char *attn_plan_parts_build(const maskplan *const *plans, int n_heads, int n_k, int qb0, int n_qt,
                                           attn_plan_parts *layout) {
    if (n_heads < 1 || n_k < 1 || qb0 < 0 || n_qt < 1)
        dam_die(DAM_EXIT_RUNTIME, "internal error: attn_plan_parts_build: heads %d, n_k %d, qb0 %d, n_qt %d", n_heads,
                n_k, qb0, n_qt);
    const int nkw = (n_k + 63) / 64, rw = (nkw + 63) / 64;
    int64_t *boff = dam_malloc(sizeof(int64_t) * (size_t)n_heads, "GPU plan block offsets");
    int64_t block_words = 0;
    for (int h = 0; h < n_heads; h++) {
        boff[h] = -1;
        if (!plans[h]->dense && plans[h]->n_qblocks > qb0) {
            boff[h] = block_words;
            block_words += (int64_t)n_qt * rw;
        }
    }
    layout->nkw = nkw;
    layout->threads = omp_get_max_threads();
    layout->rw = rw;
    layout->parts_words = 2 * (size_t)n_heads * nkw + (size_t)block_words;
    layout->bytes = sizeof(uint64_t) * layout->parts_words + (sizeof(int64_t) + sizeof(int32_t)) * (size_t)n_heads;
    if (layout->bytes > stage_cap) {
        dam_free(stage);
        stage = dam_malloc(layout->bytes, "GPU plan parts (host staging)");
        stage_cap = layout->bytes;
    }
    uint64_t *parts = (uint64_t *)stage, *blocks = parts + 2 * (size_t)n_heads * nkw;
    int64_t *hoff = (int64_t *)(parts + layout->parts_words);
    int32_t *dense = (int32_t *)(hoff + n_heads);
    memcpy(hoff, boff, sizeof(int64_t) * (size_t)n_heads);
#pragma omp parallel for schedule(dynamic, 1)
    for (int h = 0; h < n_heads; h++) {
        const maskplan *m = plans[h];
        uint64_t *cw = parts + (size_t)h * 2 * nkw, *dw = cw + nkw;
        memset(cw, 0, sizeof(uint64_t) * 2 * (size_t)nkw);
        dense[h] = m->dense;
        if (boff[h] >= 0) memset(blocks + boff[h], 0, sizeof(uint64_t) * (size_t)n_qt * rw);
        if (m->dense) continue;
        for (int i = 0; i < m->n_cols && m->cols[i] < n_k; i++) cw[m->cols[i] / 64] |= 1ull << (m->cols[i] % 64);
        for (int i = 0; i < m->n_diags && m->diags[i] < n_k; i++) dw[m->diags[i] / 64] |= 1ull << (m->diags[i] % 64);
        for (int qt = 0; boff[h] >= 0 && qt < n_qt && qb0 + qt < m->n_qblocks; qt++)
            maskplan_block_row(m, qb0 + qt, blocks + boff[h] + (size_t)qt * rw, rw);
    }
    dam_free(boff);
    return stage;
}

void attn_plan_parts_release(void) {
    dam_free(stage);
    stage = NULL;
    stage_cap = 0;
}
