// attention_plan_gpu.cu — see attention_plan_gpu.h and docs/cuda.md ("Plan conversion on the GPU").
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <vector>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "kernels/cuda/attention_plan.h"
#include "kernels/cuda/attention_plan_gpu.h"
#include "kernels/cuda/attention_wgmma.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_mem.h"

namespace {

constexpr int T = ATTN_CUDA_TILE;
constexpr int WARPS = 8;  // warps (items) per CTA of the list kernels
constexpr unsigned ALL = 0xffffffffu;

// What a key tile kt of query block qb becomes (see attention_plan_gpu.h).
enum { SKIP, FULL, BITS, GATHER };

__device__ __forceinline__ int classify(uint64_t col, uint64_t lo, uint64_t hi, bool block, int kt, int qb) {
    // lo, hi: the diagonal words qb - kt - 1 (0 for the diagonal tile) and qb - kt; the tile's pairs
    // have offsets 64 (qb - kt) - 63 .. 64 (qb - kt) + 63: bits 1 .. 63 of lo and all of hi (on the
    // diagonal tile only the causal offsets 0 .. 63: all of hi)
    if (block || col == ~0ull) return FULL;
    if (hi == ~0ull && (kt == qb || (lo | 1ull) == ~0ull)) return FULL;
    if ((hi | (lo & ~1ull)) != 0 || (col != 0 && kt == qb)) return BITS;
    return col != 0 ? GATHER : SKIP;
}

struct Args {
    const uint64_t *parts;   // [H][2][nkw] column words, then diagonal words
    const uint64_t *blocks;  // block rows: item (h, qt) at blocks + boff[h] + qt * rw (rw words, bit kb)
    const int64_t *boff;     // [H] word offset of head h's rows, -1: no blocks
    const int64_t *toff;     // [H] head h's first bitmap tile (attention_plan_gpu.h), -1: none
    const int32_t *dense;    // [H] 1 = dense head
    const int32_t *lt;       // [H] query blocks below lt[h] are bitmap tiles
    const int32_t *codes;    // bitmap tiles: ATTN_PLAN_MODE_FULL, _NONE, or the tile's index (mask T + index)
    int nkw, rw, n_items, n_qt, qb0;  // rw = ceil(nkw / 64): words per block row
    int dense_last;          // 1: dense items sort last (key -1: their heads run on the wgmma kernel)
    int64_t *n_ent, *n_gt;   // count pass: [n_items + 1] entries and gathered tiles per item (last = 0)
    int32_t *len, *items;    // count pass: sort keys (list length; qb + 1 for a dense item) and 0 .. n - 1
    const int64_t *ent_off, *gt_off;  // write pass: exclusive sums of n_ent and n_gt
    int32_t *entries, *gather;
};

// One warp per item (head h, query block qb): walks key tiles 0 .. qb, 32 at a time (lane = tile).
// WRITE = false counts; WRITE = true writes the item's entries (contiguous tiles ascending, then its
// gathered tiles) and gathered keys at the scanned offsets.
template <bool WRITE> __global__ void __launch_bounds__(WARPS * 32) walk_items(const Args a) {
    const int item = blockIdx.x * WARPS + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (item >= a.n_items) {  // warp-uniform; the count pass's grid covers item n_items: the scans' last input
        if (!WRITE && item == a.n_items && lane == 0) a.n_ent[item] = a.n_gt[item] = 0;
        return;
    }
    const int h = item / a.n_qt, qb = a.qb0 + item % a.n_qt;
    if (a.dense[h]) {
        if (!WRITE && lane == 0) {
            a.n_ent[item] = a.n_gt[item] = 0;
            a.len[item] = a.dense_last ? -1 : qb + 1;
            a.items[item] = item;
        }
        return;
    }
    if (qb < a.lt[h]) {  // the bitmap's rows: explicit masks (host-made), no gathered tiles
        const int32_t *code = a.codes + a.toff[h] + (int64_t)qb * (qb + 1) / 2 - (int64_t)a.qb0 * (a.qb0 + 1) / 2;
        int n = 0;
        for (int base = 0; base <= qb; base += 32) {
            const int kt = base + lane, c = kt <= qb ? code[kt] : ATTN_PLAN_MODE_NONE;
            const unsigned kept = __ballot_sync(ALL, c != ATTN_PLAN_MODE_NONE);
            if (WRITE && c != ATTN_PLAN_MODE_NONE) {
                int32_t *e = a.entries + ((size_t)a.ent_off[item] + n + __popc(kept & ((1u << lane) - 1u))) * 4;
                e[0] = kt;
                e[1] = c == ATTN_PLAN_MODE_FULL ? c : T + c;  // the masks follow the 64 gathered-tile masks
                e[2] = -1;
                e[3] = 0;
            }
            n += __popc(kept);
        }
        if (!WRITE && lane == 0) {
            a.n_ent[item] = a.len[item] = n;
            a.n_gt[item] = 0;
            a.items[item] = item;
        }
        return;
    }
    const uint64_t *colw = a.parts + (size_t)h * 2 * a.nkw, *diagw = colw + a.nkw;
    const uint64_t *brow = a.boff[h] >= 0 ? a.blocks + a.boff[h] + (size_t)(item % a.n_qt) * a.rw : nullptr;
    int n_contig = 0;
    int64_t n_keys = 0;
    int32_t *ent = WRITE ? a.entries + (size_t)a.ent_off[item] * 4 : nullptr;
    int32_t *gat = WRITE ? a.gather + (size_t)a.gt_off[item] * T : nullptr;
    for (int base = 0; base <= qb; base += 32) {
        const unsigned bmask = brow ? (unsigned)(brow[base >> 6] >> (base & 63)) : 0u;  // blocks base .. base + 31
        const int kt = base + lane;
        int cls = SKIP;
        uint64_t col = 0;
        if (kt <= qb) {
            col = colw[kt];
            const int dq = qb - kt;
            cls = classify(col, dq > 0 ? diagw[dq - 1] : 0ull, diagw[dq], (bmask >> lane) & 1u, kt, qb);
        }
        const unsigned contig = __ballot_sync(ALL, cls == FULL || cls == BITS);
        const int keys = cls == GATHER ? __popcll(col) : 0;
        int incl = keys;  // inclusive warp scan of the gathered keys
        for (int o = 1; o < 32; o <<= 1) {
            const int y = __shfl_up_sync(ALL, incl, o);
            if (lane >= o) incl += y;
        }
        if (WRITE) {
            if (cls == FULL || cls == BITS) {
                int32_t *e = ent + 4 * (n_contig + __popc(contig & ((1u << lane) - 1u)));
                e[0] = kt;
                e[1] = cls == FULL ? ATTN_PLAN_MODE_FULL : ATTN_PLAN_MODE_BITS;
                e[2] = -1;
                e[3] = 0;
            }
            int64_t slot = n_keys + incl - keys;
            for (uint64_t w = col; keys && w; w &= w - 1) gat[slot++] = kt * T + __ffsll((long long)w) - 1;
        }
        n_contig += __popc(contig);
        n_keys += __shfl_sync(ALL, incl, 31);
    }
    const int n_gt = (int)((n_keys + T - 1) / T);
    if (WRITE) {
        for (int64_t s = n_keys + lane; s < (int64_t)n_gt * T; s += 32) gat[s] = -1;
        for (int t = lane; t < n_gt; t += 32) {  // gathered tile t keeps its first v slots in every row
            int32_t *e = ent + 4 * (n_contig + t);
            const int64_t left = n_keys - (int64_t)t * T;
            e[0] = -(int)(a.gt_off[item] + t) - 1;
            e[1] = (int)(left < T ? left : T) - 1;  // mask index v - 1: slots 0 .. v - 1
            e[2] = -1;
            e[3] = 0;
        }
    } else if (lane == 0) {
        a.n_ent[item] = n_contig + n_gt;
        a.n_gt[item] = n_gt;
        a.len[item] = n_contig + n_gt;
        a.items[item] = item;
    }
}

// The 64 masks of gathered tiles: mask m keeps slots 0 .. m in every row.
__global__ void slot_masks(uint64_t *words) {
    const int m = blockIdx.x, r = threadIdx.x;
    words[m * T + r] = m == T - 1 ? ~0ull : (2ull << m) - 1ull;
}

// tile_ptr (int32) from the scanned offsets, and one CTA descriptor per item in sorted order:
// item (| ATTN_PLAN_DENSE_ITEM for a dense head's), first entry, end entry (a dense item: 0, qb + 1),
// the first entry's kt.
__global__ void finish(const int64_t *ent_off, const int32_t *sorted, const int32_t *dense, const int32_t *entries,
                       int n_items, int n_qt, int qb0, int32_t *tile_ptr, int4 *order) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i > n_items) return;
    tile_ptr[i] = (int32_t)ent_off[i];
    if (i == n_items) return;
    const int item = sorted[i];
    if (dense[item / n_qt]) {
        order[i] = make_int4(item | ATTN_PLAN_DENSE_ITEM, 0, qb0 + item % n_qt + 1, 0);
    } else {
        const int b = (int)ent_off[item], e = (int)ent_off[item + 1];
        order[i] = make_int4(item, b, e, e > b ? entries[4 * (size_t)b] : 0);
    }
}

// The two totals (the scans' last elements) side by side, for one read-back.
__global__ void totals(const int64_t *ent_off, const int64_t *gt_off, int n, int64_t *out) {
    out[0] = ent_off[n];
    out[1] = gt_off[n];
}

// Bytes rounded up to 256 (the sub-arrays of one allocation keep cudaMalloc's alignment for their loads).
size_t align256(size_t b) { return (b + 255) / 256 * 256; }

// The builds' device scratch (counts, scans, sort keys, the totals, CUB's temporary storage), kept across
// builds and grown when a build needs more: a cudaMalloc / cudaFree pair per build cost time and a
// device synchronisation. One host thread drives the device (cuda_mem.h), so no lock.
void *g_scratch;
size_t g_scratch_cap;

void *scratch_take(size_t bytes) {
    if (bytes > g_scratch_cap) {
        dam_cuda_free(g_scratch);
        g_scratch = dam_cuda_malloc(bytes, "attention plan build scratch");
        g_scratch_cap = bytes;
    }
    return g_scratch;
}

}  // namespace

extern "C" void attn_cuda_plan_gpu_release(void) {
    dam_cuda_free(g_scratch);
    g_scratch = nullptr;
    g_scratch_cap = 0;
}

extern "C" bool attn_cuda_plan_gpu_eligible(const maskplan *const *plans, int n_heads) {
    if (!plans) return false;
    bool sparse = false;
    int64_t bitmap_tiles = 0;
    for (int h = 0; h < n_heads; h++) {
        const maskplan *m = plans[h];
        if (m->dense) continue;
        if (m->blk_bias) return false;
        const int64_t lt = (m->bitmap_L + T - 1) / T;
        bitmap_tiles += lt * (lt + 1) / 2;
        sparse = true;
    }
    return sparse && bitmap_tiles <= ATTN_PLAN_MAX_BITMAP_TILES;
}

namespace {

// One plan of a batched build between its two device phases.
struct Pending {
    attn_cuda_plan *p;
    const maskplan *const *plans;
    attn_plan_parts lay;
    Args a;
    std::vector<int32_t> wg_heads;  // its dense heads for the wgmma kernel (read by an async copy: kept to the end)
    int64_t *ent_off, *gt_off;
    int32_t *items_sorted;
    size_t n1;
    uint64_t *d_masks;  // the bitmap tiles' masks until phase 2 copies them into d_words (NULL: no tiles)
};

// Scratch bytes of one plan of n_items items: counts and offsets (int64 [4][n1]), sort keys and items
// (int32 [4][n1]), its two totals (in the batch's totals array, not here).
size_t scratch_bytes(int n_items) {
    const size_t n1 = (size_t)n_items + 1;
    return align256(sizeof(int64_t) * 4 * n1) + align256(sizeof(int32_t) * 4 * n1);
}

// The fields of a GPU-built plan that follow from its shape.
void set_fields(attn_cuda_plan *p) {
    const int nkw = (p->n_k + T - 1) / T, q_base = p->n_k - p->n_q;
    p->hc = 1;
    p->n_chunks = p->n_heads;
    p->qb0 = q_base / T;
    p->n_qt = (p->n_k - 1) / T - p->qb0 + 1;
    p->entry_ints = 4;
    p->gpu_lists = 1;
    p->nkw = nkw;
}

// Phase 1a of one plan, its staging (b.lay) done: the upload (synchronous copies from the staging:
// the parts into d_parts, the bitmap tiles' masks into a temporary device buffer that phase 2 copies
// into d_words). Every plan's upload runs before any of this build's kernels are queued, so no upload
// waits for them (only for work queued before the build). host_ms = stage_ms + the upload's time.
void phase1_upload(Pending &b, const unsigned char *stage, double stage_ms) {
    attn_cuda_plan *p = b.p;
    const double t0 = now_ms();
    p->d_parts = (uint64_t *)dam_cuda_malloc(b.lay.masks_off, "attention plan parts");
    CUDA_CHECK(cudaMemcpy(p->d_parts, stage, b.lay.masks_off, cudaMemcpyHostToDevice));
    b.d_masks = NULL;
    if (b.lay.n_tiles) {
        const size_t mb = sizeof(uint64_t) * T * (size_t)b.lay.n_tiles;
        b.d_masks = (uint64_t *)dam_cuda_malloc(mb, "attention plan bitmap tile masks (build)");
        CUDA_CHECK(cudaMemcpy(b.d_masks, stage + b.lay.masks_off, mb, cudaMemcpyHostToDevice));
    }
    p->host_ms = stage_ms + (now_ms() - t0);
    p->threads = b.lay.threads;
}

// Phase 1b of one plan: the count pass, the scans and the sort, and its two totals into total[0..1]
// (device). Queued on the default stream, no synchronisation.
void phase1_count(Pending &b, bool wgmma_dense, unsigned char *scratch, void *tmp, size_t tmp_scan, size_t tmp_sort,
                  int64_t *total) {
    attn_cuda_plan *p = b.p;
    const int H = p->n_heads, nkw = p->nkw, n_qt = p->n_qt, n_items = H * n_qt;
    const size_t parts_bytes = sizeof(uint64_t) * b.lay.parts_words;
    Args &a = b.a;
    memset(&a, 0, sizeof a);
    a.parts = p->d_parts;
    a.blocks = p->d_parts + 2 * (size_t)H * nkw;
    a.boff = (const int64_t *)((unsigned char *)p->d_parts + parts_bytes);
    a.toff = a.boff + H;
    a.dense = (const int32_t *)(a.toff + H);
    a.lt = a.dense + H;
    a.codes = (const int32_t *)((unsigned char *)p->d_parts + b.lay.codes_off);
    a.nkw = nkw;
    a.rw = b.lay.rw;
    a.n_items = n_items;
    a.n_qt = n_qt;
    a.qb0 = p->qb0;
    // dense heads: on a compute-capability-9.0 device the wgmma kernel runs them (their items last)
    for (int h = 0; h < H && wgmma_dense && attn_cuda_wgmma_available(64); h++)
        if (b.plans[h]->dense) b.wg_heads.push_back(h);
    const int n_wg = (int)b.wg_heads.size();
    a.dense_last = n_wg > 0;
    p->n_wgmma_heads = n_wg;
    p->list_ctas = n_items - n_wg * n_qt;
    b.n1 = (size_t)n_items + 1;
    const size_t n1 = b.n1, b64 = align256(sizeof(int64_t) * 4 * n1);
    int64_t *scratch64 = (int64_t *)scratch;
    int32_t *scratch32 = (int32_t *)(scratch + b64);
    a.n_ent = scratch64;
    a.n_gt = scratch64 + n1;
    b.ent_off = scratch64 + 2 * n1, b.gt_off = scratch64 + 3 * n1;
    a.len = scratch32;
    a.items = scratch32 + n1;
    int32_t *len_sorted = scratch32 + 2 * n1;
    b.items_sorted = scratch32 + 3 * n1;
    walk_items<false><<<(n_items + WARPS) / WARPS, WARPS * 32>>>(a);  // (items 0 .. n_items: it zeroes the last)
    CUDA_LAUNCH_CHECK("walk_items (count)");
    size_t tb = tmp_scan;
    CUDA_CHECK(cub::DeviceScan::ExclusiveSum(tmp, tb, a.n_ent, b.ent_off, (int)n1));
    tb = tmp_scan;
    CUDA_CHECK(cub::DeviceScan::ExclusiveSum(tmp, tb, a.n_gt, b.gt_off, (int)n1));
    tb = tmp_sort;
    CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(tmp, tb, a.len, len_sorted, a.items, b.items_sorted, n_items));
    totals<<<1, 1>>>(b.ent_off, b.gt_off, n_items, total);
    CUDA_LAUNCH_CHECK("totals");
}

// Phase 2 of one plan, its totals read back: the checks, the one allocation of its arrays, the write
// pass, the 64 gathered-tile masks, the bitmap tiles' masks (device to device from b.d_masks), the CTA
// order; queued on the default stream.
void phase2(Pending &b, const int64_t *tot) {
    attn_cuda_plan *p = b.p;
    const int64_t n_entries = tot[0], n_gathered = tot[1];
    if (n_entries >= INT32_MAX || n_gathered >= INT32_MAX / T) {
        fprintf(stderr, "dam: attn_cuda_plan_build: %lld entries / %lld gathered tiles, more than the kernel takes\n",
                (long long)n_entries, (long long)n_gathered);
        exit(3);
    }
    const int n_items = b.a.n_items, n_qt = p->n_qt, n_wg = (int)b.wg_heads.size();
    const size_t n1 = b.n1;
    p->n_entries = n_entries;
    p->n_gathered = n_gathered;
    p->n_masks = T + b.lay.n_tiles;
    // one allocation for the kernel's arrays (p->d_lists; attn_cuda_plan_free frees it whole)
    const size_t b_ent = align256(sizeof(int32_t) * 4 * std::max<int64_t>(n_entries, 1)),
                 b_gat = align256(sizeof(int32_t) * T * std::max<int64_t>(n_gathered, 1)),
                 b_words = align256(sizeof(uint64_t) * T * (T + b.lay.n_tiles)), b_ptr = align256(sizeof(int32_t) * n1),
                 b_order = align256(sizeof(int32_t) * 4 * n_items), b_wg = sizeof(int32_t) * std::max(n_wg, 1);
    unsigned char *lists = (unsigned char *)dam_cuda_malloc(b_ent + b_gat + b_words + b_ptr + b_order + b_wg,
                                                            "attention plan lists");
    p->d_lists = lists;
    p->d_entries = (int32_t *)lists;
    p->d_gather = (int32_t *)(lists + b_ent);
    p->d_words = (uint64_t *)(lists + b_ent + b_gat);
    p->d_tile_ptr = (int32_t *)(lists + b_ent + b_gat + b_words);
    p->d_order = (int32_t *)(lists + b_ent + b_gat + b_words + b_ptr);
    if (n_wg) {
        p->d_wgmma_heads = (int32_t *)(lists + b_ent + b_gat + b_words + b_ptr + b_order);
        CUDA_CHECK(cudaMemcpyAsync(p->d_wgmma_heads, b.wg_heads.data(), sizeof(int32_t) * n_wg, cudaMemcpyHostToDevice, 0));
    }
    Args &a = b.a;
    a.ent_off = b.ent_off;
    a.gt_off = b.gt_off;
    a.entries = p->d_entries;
    a.gather = p->d_gather;
    walk_items<true><<<(n_items + WARPS - 1) / WARPS, WARPS * 32>>>(a);
    CUDA_LAUNCH_CHECK("walk_items (write)");
    slot_masks<<<T, T>>>(p->d_words);
    CUDA_LAUNCH_CHECK("slot_masks");
    if (b.d_masks)  // the bitmap tiles' masks after the 64 gathered-tile masks
        CUDA_CHECK(cudaMemcpyAsync(p->d_words + T * T, b.d_masks, sizeof(uint64_t) * T * b.lay.n_tiles,
                                   cudaMemcpyDeviceToDevice, 0));
    finish<<<(int)((n1 + 255) / 256), 256>>>(b.ent_off, b.items_sorted, a.dense, p->d_entries, n_items, n_qt, p->qb0,
                                            p->d_tile_ptr, reinterpret_cast<int4 *>(p->d_order));
    CUDA_LAUNCH_CHECK("finish");

    // statistics: entries are head tiles (one head per list), dense heads count their causal tiles
    int64_t dense_tiles = 0, causal = 0;
    for (int qt = 0; qt < n_qt; qt++) causal += p->qb0 + qt + 1;
    for (int h = 0; h < p->n_heads; h++) dense_tiles += b.plans[h]->dense ? causal : 0;
    p->head_tiles = n_entries + dense_tiles;
    p->causal_tiles = causal * p->n_heads;
    p->device_bytes = b.lay.masks_off + b_ent + b_gat + b_words + b_ptr + b_order + b_wg;
}

attn_cuda_plan_gpu_phases g_phases;  // the last build's (attn_cuda_plan_gpu_last_phases)

}  // namespace

extern "C" const attn_cuda_plan_gpu_phases *attn_cuda_plan_gpu_last_phases(void) { return &g_phases; }

extern "C" void attn_cuda_plan_gpu_build_many(attn_cuda_plan *const *ps, const maskplan *const *const *plans, int count,
                                              bool wgmma_dense) {
    if (count < 1) return;
    attn_cuda_plan_gpu_phases ph = {};
    ph.count = count;
    double tp = now_ms();
    auto lap = [&tp](double *field) {  // the time since the last lap into *field
        const double t = now_ms();
        *field = t - tp;
        tp = t;
    };
    const attn_cuda_plan *p0 = ps[0];
    std::vector<const maskplan *const *> sets((size_t)count);
    for (int i = 0; i < count; i++) {
        if (ps[i]->n_q != p0->n_q || ps[i]->n_k != p0->n_k || ps[i]->n_heads != p0->n_heads) {
            fprintf(stderr, "dam: internal error: attn_cuda_plan_gpu_build_many: plans of different shapes\n");
            exit(3);
        }
        set_fields(ps[i]);
        sets[(size_t)i] = plans[i];
    }
    std::vector<Pending> b((size_t)count);
    // the scratch of every plan side by side, the totals [count][2], CUB's temporary storage (shared: the
    // plans' scans and sorts run one after another on the stream; its size queries read no pointer)
    size_t sum = 0, tmp_scan = 0, tmp_sort = 0;
    std::vector<size_t> at((size_t)count);
    for (int i = 0; i < count; i++) {
        const int n_items = ps[i]->n_heads * ps[i]->n_qt;
        size_t ts = 0, tt = 0;
        CUDA_CHECK(cub::DeviceScan::ExclusiveSum(nullptr, ts, (int64_t *)nullptr, (int64_t *)nullptr, n_items + 1));
        CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(nullptr, tt, (int32_t *)nullptr, (int32_t *)nullptr,
                                                             (int32_t *)nullptr, (int32_t *)nullptr, n_items));
        tmp_scan = std::max(tmp_scan, ts), tmp_sort = std::max(tmp_sort, tt);
        at[(size_t)i] = sum;
        sum += scratch_bytes(n_items);
        b[(size_t)i].p = ps[i];
        b[(size_t)i].plans = plans[i];
    }
    const size_t b_tot = align256(sizeof(int64_t) * 2 * (size_t)count);
    unsigned char *scratch = (unsigned char *)scratch_take(sum + b_tot + std::max(tmp_scan, tmp_sort));
    int64_t *total = (int64_t *)(scratch + sum);
    void *tmp = scratch + sum + b_tot;
    // host: every plan's parts as bit words (attention_plan_parts.c, OpenMP over the plans), the uploads
    std::vector<attn_plan_parts> lays((size_t)count);
    std::vector<const unsigned char *> stages((size_t)count);
    lap(&ph.setup_ms);
    attn_plan_parts_build_many(sets.data(), count, p0->n_heads, p0->n_k, p0->qb0, p0->n_qt, lays.data(),
                               stages.data());
    lap(&ph.stage_ms);
    const double stage_ms = ph.stage_ms / count;
    for (int i = 0; i < count; i++) {
        b[(size_t)i].lay = lays[(size_t)i];
        phase1_upload(b[(size_t)i], stages[(size_t)i], stage_ms);
    }
    lap(&ph.upload_ms);
    for (int i = 0; i < count; i++)
        phase1_count(b[(size_t)i], wgmma_dense, scratch + at[(size_t)i], tmp, tmp_scan, tmp_sort, total + 2 * i);
    lap(&ph.queue1_ms);
    std::vector<int64_t> tot((size_t)2 * count);  // every plan's totals, one read-back
    CUDA_CHECK(cudaMemcpy(tot.data(), total, sizeof(int64_t) * 2 * (size_t)count, cudaMemcpyDeviceToHost));
    lap(&ph.totals_ms);
    for (int i = 0; i < count; i++) phase2(b[(size_t)i], tot.data() + 2 * i);
    lap(&ph.queue2_ms);
    CUDA_CHECK(cudaStreamSynchronize(0));  // the lists are complete when the build returns (build_ms)
    lap(&ph.sync_ms);
    for (int i = 0; i < count; i++) dam_cuda_free(b[(size_t)i].d_masks);
    lap(&ph.release_ms);
    g_phases = ph;
}

extern "C" void attn_cuda_plan_gpu_build(attn_cuda_plan *p, const maskplan *const *plans, bool wgmma_dense) {
    attn_cuda_plan_gpu_build_many(&p, &plans, 1, wgmma_dense);
}
