// estimate_dam_online.cu — dam_online's estimate, pattern matching and gate on the GPU, all heads of a
// layer together (estimate.h, est_cuda_dam_online). Reference (CPU): dam/online.c dam_online_head.
// Per chunk of heads, all on the default stream, one copy back at the end:
//   probe-row logits (cuBLAS, one strided-batched product per run of heads of one KV head with the same
//   w) -> row statistics -> column / diagonal on-cells (sel) -> block means -> block map -> matched
//   blocks -> per (probe row, key block) kept and missing P mass -> every query block's key blocks
//   sorted by A (segmented sort) -> gate depth -> deepened blocks -> kept pairs of the plan.
#include "kernels/cuda/estimate.h"
#include "kernels/cuda/estimate_common.cuh"

#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_mem.h"
extern "C" {
#include "core/mem.h"
}

using namespace est;

namespace {

// Scratch budget of one chunk of heads (bytes): heads are processed together up to it. The
// environment variable DAM_CUDA_EST_CHUNK_BYTES overrides it (tests: 1 = one head per chunk).
double chunk_bytes(void) {
    const char *e = getenv("DAM_CUDA_EST_CHUNK_BYTES");
    if (e == NULL) return 512.0 * 1024 * 1024;
    char *end;
    const double v = strtod(e, &end);
    if (end == e || *end != '\0' || !(v >= 1))
        dam_die(DAM_EXIT_INPUT, "DAM_CUDA_EST_CHUNK_BYTES=\"%s\": must be a number of bytes >= 1", e);
    return v;
}

// On-cell decision of dam/online.c on_cell (est_on_rule in estimate.h).
__device__ bool on_cell(const est_on_rule &o, double p) {
    const double v = p > o.eps ? p : o.eps;
    if (v < o.cut * (1 - 1e-9)) return false;
    if (v > o.cut * (1 + 1e-9)) return true;
    const double b = o.lambda == 0.0 ? log(v) : (pow(v, o.lambda) - 1.0) / o.lambda;
    return b - o.base >= o.tau;
}

// P[r][j] of probe row r of head y: e^(z · scale - mx) / sum, as est_last_rows computes it.
__device__ inline double prob(const float *zr, int j, double scale, double mx, double sum) {
    return exp((double)zr[j] * scale - mx) / sum;
}

// Step (b, c) for columns and diagonals, grid (2n threads, heads): thread t < n is column j = t, thread
// n + o is diagonal o; counts the on-cells over head y's probe rows (r ascending) and writes
// sel[y][t] = 1 iff the pattern matches (diagonal 0 always): cells = n - max(c, i0) >= min_cells and
// on / cells >= mu. z: [y][w_max][n] logits; mx, sum: [y][w_max].
__global__ void online_patterns(const float *z, int n, int w_max, double scale, const double *mx, const double *sum,
                                const est_dam_online_head *par, uint8_t *sel) {
    const long t = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= 2L * n) return;
    const int y = blockIdx.y;
    const est_dam_online_head p = par[y];
    const int w = p.w, i0 = n - w, c = (int)(t < n ? t : t - n);
    const float *zy = z + (long)y * w_max * n;
    mx += (long)y * w_max, sum += (long)y * w_max;
    int hit = 0;
    for (int r = (c > i0 ? c - i0 : 0); r < w; r++) {
        const int j = t < n ? c : i0 + r - c;
        hit += on_cell(p.rule, prob(zy + (long)r * n, j, scale, mx[r], sum[r]));
    }
    const int cells = n - (c > i0 ? c : i0);
    sel[(long)y * 2 * n + t] = (t == n) || (cells >= p.min_cells && (double)hit / cells >= p.mu);
}

// Step (c) for blocks, one CTA per query block qb, grid.y = head y: block (qb, kb) matches iff over its
// causal cells (row i keeps c(i, kb) keys, each with p = A[qb][kb] / c) the on-cells are >= mu of
// >= min_cells cells; sets bit kb of bits[y][qb]. A packed as block_map writes it. Off the diagonal
// (kb < qb) every row keeps all 64 keys of the block, so the block is all on or all off.
__global__ void online_blocks(const double *A, int n, int nb, int words, const est_dam_online_head *par,
                              unsigned long long *bits) {
    const int qb = blockIdx.x, y = blockIdx.y, r0 = qb * BLOCK, r1 = min(r0 + BLOCK, n);
    const est_dam_online_head p = par[y];
    const long base = (long)y * nb * (nb + 1) / 2 + (long)qb * (qb + 1) / 2;
    unsigned long long *row = bits + ((long)y * nb + qb) * words;
    for (int kb = threadIdx.x; kb <= qb; kb += blockDim.x) {
        const double a = A[base + kb];
        double on = 0, cells = 0;
        if (kb < qb) {
            cells = (double)(r1 - r0) * BLOCK;
            on = on_cell(p.rule, a / BLOCK) ? cells : 0;
        } else {
            const int j0 = kb * BLOCK, j1 = min(j0 + BLOCK, n);
            for (int i = r0; i < r1; i++) {
                const int c = (i < j1 ? i + 1 : j1) - j0;
                cells += c;
                if (on_cell(p.rule, a / c)) on += c;
            }
        }
        if (cells >= p.min_cells && on / cells >= p.mu) atomicOr(row + (kb >> 6), 1ull << (kb & 63));
    }
}

// The gate's inputs, one CTA per probe row r (position i = n - w + r), grid.y = head y: the P mass of
// the keys the plan keeps (column j, diagonal i - j or block (i / 64, j / 64)) into base[y][r], and per
// key block kb <= i / 64 the mass of its causal keys the plan does not keep into res[y][r][kb] (what
// adding that block gives; 0 for kb > i / 64). One warp per key block, two keys per lane.
__global__ void online_gate(const float *z, int n, int w_max, int nb, int words, double scale, const double *mx,
                            const double *sum, const est_dam_online_head *par, const uint8_t *sel,
                            const unsigned long long *bits, double *base, double *res) {
    __shared__ double red[THREADS / 32];
    const int r = blockIdx.x, y = blockIdx.y, w = par[y].w;
    if (r >= w) return; // the whole CTA
    const int i = n - w + r, qb = i / BLOCK, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const float *zr = z + ((long)y * w_max + r) * n;
    const double m = mx[(long)y * w_max + r], s = sum[(long)y * w_max + r];
    const uint8_t *sel_c = sel + (long)y * 2 * n, *sel_d = sel_c + n;
    const unsigned long long *brow = bits + ((long)y * nb + qb) * words;
    double *res_r = res + ((long)y * w_max + r) * nb;
    double kept = 0;
    for (int kb = warp; kb < nb; kb += THREADS / 32) {
        double miss = 0;
        if (kb <= qb) {
            const bool blk = brow[kb >> 6] >> (kb & 63) & 1;
            for (int j = kb * BLOCK + lane; j < kb * BLOCK + BLOCK && j <= i; j += 32) {
                const double pj = prob(zr, j, scale, m, s);
                if (blk || sel_c[j] || sel_d[i - j]) kept += pj;
                else miss += pj;
            }
            for (int o = 16; o > 0; o >>= 1) miss += __shfl_xor_sync(0xffffffffu, miss, o);
        }
        if (lane == 0) res_r[kb] = miss;
    }
    kept = block_sum(kept, red);
    if (threadIdx.x == 0) base[(long)y * w_max + r] = kept;
}

// offsets[y · nb + qb] = y · cells + qb (qb + 1) / 2 for y · nb + qb <= heads · nb: the sort's segments,
// the rows of every head's packed lower-triangular map.
__global__ void map_rows(int nb, int heads, int *offsets) {
    const long t = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t > (long)heads * nb) return;
    const long y = t / nb, qb = t % nb;
    offsets[t] = (int)(y * nb * (nb + 1) / 2 + qb * (qb + 1) / 2);
}

// Key block of rank t of query block qb of head y (t <= qb), from the sorted packed map (cell
// indices qb · nb + kb).
__device__ inline int ranked(const int *sorted, int nb, int y, int qb, int t) {
    return sorted[(long)y * nb * (nb + 1) / 2 + (long)qb * (qb + 1) / 2 + t] % nb;
}

// inc[y][t] = the mass the gate's depth t adds over head y's probe rows: sum over r (ascending) with
// t <= qb_r = (n - w + r) / 64 of res[y][r][rank t of qb_r]. Grid (nb threads, heads).
__global__ void gate_increments(const double *res, const int *sorted, int n, int w_max, int nb,
                                const est_dam_online_head *par, double *inc) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y, w = par[y].w;
    if (t >= nb) return;
    double a = 0;
    for (int r = 0; r < w; r++) {
        const int qb = (n - w + r) / BLOCK;
        if (t <= qb) a += res[((long)y * w_max + r) * nb + ranked(sorted, nb, y, qb, t)];
    }
    inc[(long)y * nb + t] = a;
}

// The gate (dam/online.c step d), one thread per head: mass = the sum of base over the probe rows;
// depth = the first t with mass + inc[0] + ... + inc[t-1] >= coverage · w, at most nb (dense: every
// causal block of every query block is kept, as dam/online.c decides).
__global__ void gate_depth(const double *base, const double *inc, int w_max, int nb, int heads,
                           const est_dam_online_head *par, int *depth) {
    const int y = blockIdx.x * blockDim.x + threadIdx.x;
    if (y >= heads) return;
    const int w = par[y].w;
    const double target = par[y].coverage * w;
    double mass = 0;
    for (int r = 0; r < w; r++) mass += base[(long)y * w_max + r];
    int t = 0;
    for (; t < nb && mass < target; t++) mass += inc[(long)y * nb + t];
    depth[y] = t;
}

// The deepening: every query block qb of head y keeps its key blocks of rank < min(depth[y], qb + 1).
// One warp per (qb, y); nothing for dense heads (depth == nb).
__global__ void gate_deepen(const int *sorted, int nb, int words, const int *depth, unsigned long long *bits) {
    const int qb = (int)(((long)blockIdx.x * blockDim.x + threadIdx.x) >> 5), lane = threadIdx.x & 31, y = blockIdx.y;
    const int t1 = min(depth[y], qb + 1);
    if (qb >= nb || depth[y] >= nb) return;
    unsigned long long *row = bits + ((long)y * nb + qb) * words;
    for (int t = lane; t < t1; t += 32) {
        const int kb = ranked(sorted, nb, y, qb, t);
        atomicOr(row + (kb >> 6), 1ull << (kb & 63));
    }
}

// The matched patterns as bits, grid (nw + 1 words, heads): cols[y][v] bit b = column 64 v + b;
// rdiag[y][v] bit b = diagonal n - 1 - (64 v + b) (the diagonals reversed, so a row's diagonals over
// a word of keys are 64 consecutive bits); bits at and past n are 0 (word nw is all 0).
__global__ void pattern_bits(const uint8_t *sel, int n, int nw, unsigned long long *cols, unsigned long long *rdiag) {
    const int v = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
    if (v > nw) return;
    const uint8_t *sc = sel + (long)y * 2 * n, *sd = sc + n;
    unsigned long long c = 0, dg = 0;
    for (int b = 0; b < 64; b++) {
        const long p = 64L * v + b;
        if (p >= n) break;
        c |= (unsigned long long)(sc[p] != 0) << b;
        dg |= (unsigned long long)(sd[n - 1 - p] != 0) << b;
    }
    cols[(long)y * (nw + 1) + v] = c;
    rdiag[(long)y * (nw + 1) + v] = dg;
}

// kept[y] += the causal pairs of row i that head y's plan keeps: key j <= i is kept iff column j,
// diagonal i - j or block (i / 64, j / 64) is. One warp per row, one 64-key word per lane step;
// nothing for dense heads. kept must be 0 before.
__global__ void kept_pairs(const unsigned long long *cols, const unsigned long long *rdiag,
                           const unsigned long long *bits, int n, int nw, int nb, int words, const int *depth,
                           unsigned long long *kept) {
    const long i = ((long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31, y = blockIdx.y;
    if (i >= n || depth[y] >= nb) return;
    const unsigned long long *cy = cols + (long)y * (nw + 1), *dy = rdiag + (long)y * (nw + 1);
    const unsigned long long *brow = bits + ((long)y * nb + i / BLOCK) * words;
    unsigned long long cnt = 0;
    for (long v = lane; v <= i / 64; v += 32) {
        const long s = n - 1 - i + 64 * v; // rdiag bit of key 64 v
        const int sh = (int)(s & 63);
        const unsigned long long dg = dy[s >> 6] >> sh | (sh ? dy[(s >> 6) + 1] << (64 - sh) : 0ull);
        unsigned long long keep = cy[v] | dg | ((brow[v >> 6] >> (v & 63) & 1) ? ~0ull : 0ull);
        if (v == i / 64) {
            const long t = i - 64 * v; // keys 64 v .. i are causal
            keep &= t >= 63 ? ~0ull : (2ull << t) - 1;
        }
        cnt += __popcll(keep);
    }
    for (int o = 16; o > 0; o >>= 1) cnt += __shfl_xor_sync(0xffffffffu, cnt, o);
    if (lane == 0 && cnt) atomicAdd(kept + y, cnt);
}

} // namespace

extern "C" void est_cuda_dam_online(est_cuda_ws *ws, const uint16_t *q, int q_stride, const uint16_t *k, int kv_cap, int n,
                                    int n_heads, int n_kv_heads, int d, int h0, int h1, const est_dam_online_head *par,
                                    est_dam_online_result *res, uint8_t *sel, uint64_t *blocks) {
    check_shape("est_cuda_dam_online", n, n_heads, n_kv_heads, d);
    if (h0 < 0 || h1 > n_heads || h0 >= h1) dam_die(DAM_EXIT_RUNTIME, "internal error: est_cuda_dam_online(heads %d .. %d of %d)", h0, h1, n_heads);
    const int nb = (n + BLOCK - 1) / BLOCK, words = (nb + 63) / 64, nw = (n + 63) / 64, group = n_heads / n_kv_heads;
    const long cells = (long)nb * (nb + 1) / 2;
    // the sort values are cell indices qb · nb + kb (int): nb² must fit, not only the causal cells
    if ((long)nb * nb > 0x7fffffffL) dam_die(DAM_EXIT_RUNTIME, "dam_online block map of %d x %d blocks is too large", nb, nb);
    int w_max = 1;
    for (int y = 0; y < h1 - h0; y++) {
        if (par[y].w < 1 || par[y].w > n) dam_die(DAM_EXIT_RUNTIME, "internal error: dam_online probe rows %d of head %d", par[y].w, h0 + y);
        w_max = par[y].w > w_max ? par[y].w : w_max;
    }
    // heads per chunk: the per-head scratch (logits, map and its sort, gate sums) under CHUNK_BYTES,
    // and the sort's entry count an int
    const double per_head = 4.0 * w_max * n + 32.0 * cells + 8.0 * w_max * nb + 8.0 * nb * words + 8.0 * nb * d + 2.0 * n;
    int chunk = (int)fmax(1.0, fmin((double)(h1 - h0), chunk_bytes() / per_head));
    while (chunk > 1 && (long)chunk * cells > 0x7fffffffL) chunk--;
    const double scale = 1.0 / sqrt((double)d);
    // key block means of every KV head, once: [n_kv_heads][nb][d]
    double *kbar = (double *)grow(&ws->kmeans, sizeof(double) * (size_t)n_kv_heads * nb * d, "dam_online key means");
    row_means<<<dim3(blocks_for((long)nb * d), n_kv_heads), THREADS>>>((const __nv_bfloat16 *)k, (long)kv_cap * d, d, 0,
                                                                      n, d, BLOCK, kbar);
    CUDA_LAUNCH_CHECK("row_means");
    for (int c0 = h0; c0 < h1; c0 += chunk) {
        const int hc = h1 - c0 < chunk ? h1 - c0 : chunk;
        const est_dam_online_head *pc = par + (c0 - h0);
        est_dam_online_head *d_par = (est_dam_online_head *)grow(&ws->heads, sizeof(est_dam_online_head) * (size_t)hc,
                                                                 "dam_online head settings");
        CUDA_CHECK(cudaMemcpyAsync(d_par, pc, sizeof(est_dam_online_head) * (size_t)hc, cudaMemcpyHostToDevice, 0));
        int *d_w = (int *)grow(&ws->forced, sizeof(int) * (size_t)hc, "dam_online probe rows");
        int *w_host = (int *)dam_malloc(sizeof(int) * (size_t)hc, "dam_online probe rows");
        for (int y = 0; y < hc; y++) w_host[y] = pc[y].w;
        CUDA_CHECK(cudaMemcpy(d_w, w_host, sizeof(int) * (size_t)hc, cudaMemcpyHostToDevice));
        // (a) the probe rows: one product per run of heads with the same KV head and w
        float *z = (float *)grow(&ws->z, sizeof(float) * (size_t)hc * w_max * n, "dam_online logits");
        double *mx = (double *)grow(&ws->mx, sizeof(double) * (size_t)hc * w_max, "dam_online row maxima");
        double *sum = (double *)grow(&ws->sum, sizeof(double) * (size_t)hc * w_max, "dam_online row sums");
        for (int y = 0; y < hc;) {
            const int h = c0 + y, w = w_host[y];
            int run = 1;
            while (y + run < hc && (h + run) / group == h / group && w_host[y + run] == w) run++;
            gemm_nt(ws, z + (long)y * w_max * n, n, q + (long)(n - w) * q_stride + (long)h * d, q_stride,
                    k + (long)(h / group) * kv_cap * d, d, w, n, d, run, d, 0, (long)w_max * n);
            y += run;
        }
        dam_free(w_host);
        row_stats<<<dim3(w_max, hc), THREADS>>>(z, n, (long)w_max * n, n, d_w, 0, scale, mx, sum);
        CUDA_LAUNCH_CHECK("row_stats");
        // (b, c) columns and diagonals
        uint8_t *d_sel = (uint8_t *)grow(&ws->sel, (size_t)hc * 2 * n, "dam_online patterns");
        online_patterns<<<dim3(blocks_for(2L * n), hc), THREADS>>>(z, n, w_max, scale, mx, sum, d_par, d_sel);
        CUDA_LAUNCH_CHECK("online_patterns");
        // (a) block map; (b, c) blocks
        double *qbar = (double *)grow(&ws->means, sizeof(double) * (size_t)hc * nb * d, "dam_online query means");
        double *A = (double *)grow(&ws->keys, sizeof(double) * (size_t)hc * cells, "dam_online block map");
        int *vals = (int *)grow(&ws->vals, sizeof(int) * (size_t)hc * cells, "dam_online block cells");
        unsigned long long *bits = (unsigned long long *)grow(&ws->bits, sizeof(uint64_t) * (size_t)hc * nb * words,
                                                              "dam_online blocks");
        row_means<<<dim3(blocks_for((long)nb * d), hc), THREADS>>>((const __nv_bfloat16 *)q + (long)c0 * d, d, q_stride,
                                                                   0, n, d, BLOCK, qbar);
        CUDA_LAUNCH_CHECK("row_means");
        block_map<<<dim3(nb, hc), THREADS>>>(qbar, kbar, c0, group, nb, d, scale, A, vals);
        CUDA_LAUNCH_CHECK("block_map");
        CUDA_CHECK(cudaMemsetAsync(bits, 0, sizeof(uint64_t) * (size_t)hc * nb * words, 0));
        online_blocks<<<dim3(nb, hc), THREADS>>>(A, n, nb, words, d_par, bits);
        CUDA_LAUNCH_CHECK("online_blocks");
        // (d) the gate's inputs
        double *d_base = (double *)grow(&ws->gate_base, sizeof(double) * (size_t)hc * w_max, "dam_online kept mass");
        double *d_res = (double *)grow(&ws->gate_res, sizeof(double) * (size_t)hc * w_max * nb, "dam_online block mass");
        online_gate<<<dim3(w_max, hc), THREADS>>>(z, n, w_max, nb, words, scale, mx, sum, d_par, d_sel, bits, d_base, d_res);
        CUDA_LAUNCH_CHECK("online_gate");
        // every query block's key blocks by A descending (ties: lower kb): the rows of the maps, sorted
        int *off = (int *)grow(&ws->offsets, sizeof(int) * ((size_t)hc * nb + 1), "dam_online map rows");
        map_rows<<<blocks_for((long)hc * nb + 1), THREADS>>>(nb, hc, off);
        CUDA_LAUNCH_CHECK("map_rows");
        segmented_sort(ws, hc * cells, hc * nb);
        const int *sorted = (const int *)ws->vals_out.p;
        // (d) the gate: depth, deepening, kept pairs
        double *inc = (double *)grow(&ws->inc, sizeof(double) * (size_t)hc * nb, "dam_online gate increments");
        int *d_depth = (int *)grow(&ws->counts, sizeof(int) * (size_t)hc, "dam_online gate depth");
        gate_increments<<<dim3(blocks_for(nb), hc), THREADS>>>(d_res, sorted, n, w_max, nb, d_par, inc);
        CUDA_LAUNCH_CHECK("gate_increments");
        gate_depth<<<blocks_for(hc), THREADS>>>(d_base, inc, w_max, nb, hc, d_par, d_depth);
        CUDA_LAUNCH_CHECK("gate_depth");
        gate_deepen<<<dim3(blocks_for(32L * nb), hc), THREADS>>>(sorted, nb, words, d_depth, bits);
        CUDA_LAUNCH_CHECK("gate_deepen");
        unsigned long long *pat = (unsigned long long *)grow(&ws->patbits, sizeof(uint64_t) * (size_t)hc * 2 * (nw + 1),
                                                             "dam_online pattern bits");
        unsigned long long *cols = pat, *rdiag = pat + (long)hc * (nw + 1);
        pattern_bits<<<dim3(blocks_for(nw + 1), hc), THREADS>>>(d_sel, n, nw, cols, rdiag);
        CUDA_LAUNCH_CHECK("pattern_bits");
        unsigned long long *d_kept = (unsigned long long *)grow(&ws->kept, sizeof(uint64_t) * (size_t)hc, "dam_online kept pairs");
        CUDA_CHECK(cudaMemsetAsync(d_kept, 0, sizeof(uint64_t) * (size_t)hc, 0));
        kept_pairs<<<dim3(blocks_for(32L * n), hc), THREADS>>>(cols, rdiag, bits, n, nw, nb, words, d_depth, d_kept);
        CUDA_LAUNCH_CHECK("kept_pairs");
        // back to the host
        const int y0 = c0 - h0;
        int *depth = (int *)dam_malloc(sizeof(int) * (size_t)hc, "dam_online gate depth");
        uint64_t *kept = (uint64_t *)dam_malloc(sizeof(uint64_t) * (size_t)hc, "dam_online kept pairs");
        CUDA_CHECK(cudaMemcpy(sel + (size_t)y0 * 2 * n, d_sel, (size_t)hc * 2 * n, cudaMemcpyDeviceToHost));
        CUDA_CHECK(cudaMemcpy(blocks + (size_t)y0 * nb * words, bits, sizeof(uint64_t) * (size_t)hc * nb * words,
                              cudaMemcpyDeviceToHost));
        CUDA_CHECK(cudaMemcpy(depth, d_depth, sizeof(int) * (size_t)hc, cudaMemcpyDeviceToHost));
        CUDA_CHECK(cudaMemcpy(kept, d_kept, sizeof(uint64_t) * (size_t)hc, cudaMemcpyDeviceToHost));
        for (int y = 0; y < hc; y++) {
            res[y0 + y].depth = depth[y];
            res[y0 + y].kept = depth[y] >= nb ? -1 : (int64_t)kept[y];
        }
        dam_free(kept);
        dam_free(depth);
    }
    ws->map_head_ok = h1 - h0 == 1;
}

extern "C" void est_cuda_dam_online_map(est_cuda_ws *ws, int n, double *A) {
    if (!ws->map_head_ok) dam_die(DAM_EXIT_RUNTIME, "internal error: est_cuda_dam_online_map after a call for several heads");
    const int nb = (n + BLOCK - 1) / BLOCK;
    const long cells = (long)nb * (nb + 1) / 2;
    double *packed = (double *)dam_malloc(sizeof(double) * (size_t)cells, "dam_online block map (host)");
    CUDA_CHECK(cudaMemcpy(packed, ws->keys.p, sizeof(double) * (size_t)cells, cudaMemcpyDeviceToHost));
    for (int qb = 0; qb < nb; qb++)
        for (int kb = 0; kb < nb; kb++) A[(size_t)qb * nb + kb] = kb <= qb ? packed[(long)qb * (qb + 1) / 2 + kb] : 0.0;
    dam_free(packed);
}
