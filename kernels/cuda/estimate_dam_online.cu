// estimate_dam_online.cu — dam_online's estimate, pattern matching and gate on the GPU, all heads of a
// layer together (estimate.h, est_cuda_dam_online). Reference (CPU): dam/online.c dam_online_head.
// Per chunk of heads, all on the default stream, one copy back at the end:
//   probe-row logits (cuBLAS, one strided-batched product per run of heads of one KV head with the same
//   w) -> row statistics -> column / diagonal on-cells (sel) -> block means -> block map -> matched
//   blocks -> per (probe row, key block) kept and missing P mass -> the probe blocks' key blocks sorted
//   by A (bitonic, shared memory; CUB's segmented sort of every row above 256K tokens) -> gate depth
//   -> deepened blocks (per row: all, a selection or a sort) -> kept pairs of the plan.
#include "kernels/cuda/estimate.h"
#include "kernels/cuda/estimate_common.cuh"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_mem.h"
extern "C" {
#include "core/mem.h"
}

using namespace est;

namespace {

// Test-only DAM_CUDA_EST_CUB_SORT=1: CUB's segmented sort of every row even when the rows fit shared
// memory (0 or unset: off; another value exits with 2).
bool cub_sort_forced(void) {
    const char *e = getenv("DAM_CUDA_EST_CUB_SORT");
    if (e == NULL || strcmp(e, "0") == 0) return false;
    if (strcmp(e, "1") != 0) dam_die(DAM_EXIT_INPUT, "DAM_CUDA_EST_CUB_SORT=\"%s\": must be 0 or 1", e);
    return true;
}

// On-cell decision of dam/online.c on_cell (est_on_rule in estimate.h).
__device__ bool on_cell(const est_on_rule &o, double p) {
    const double v = p > o.eps ? p : o.eps;
    if (v < o.cut * (1 - 1e-9)) return false;
    if (v > o.cut * (1 + 1e-9)) return true;
    const double b = o.lambda == 0.0 ? log(v) : (pow(v, o.lambda) - 1.0) / o.lambda;
    return b - o.base >= o.tau;
}

// Bounds that decide step (b) without an exp for most cells of probe row r of head y: with
// u = z · scale, p = e^(u - mx) / sum is surely below cut · (1 - 1e-9) when u < lo[y][r] (and
// then the cell is off, if eps is below that too) and surely above cut · (1 + 1e-9) when
// u > hi[y][r] (on); in between, on_cell decides on p as computed. lo / hi are log-domain bounds
// widened by 1e-9 · (1 + |mx| + |log sum| + |log cut|), far above the rounding of exp, the division
// and these logs (~1e-15 relative). cut = +inf: lo = hi = +inf (every cell off, as on_cell says).
__global__ void probe_cuts(const double *mx, const double *sum, int w_max, const est_dam_online_head *par, double *lo,
                           double *hi) {
    const int r = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
    if (r >= par[y].w) return;
    const est_on_rule o = par[y].rule;
    const long at = (long)y * w_max + r;
    const double b = mx[at] + log(sum[at]), lc = log(o.cut), margin = 1e-9 * (1 + fabs(mx[at]) + fabs(log(sum[at])) + fabs(lc));
    const bool eps_low = o.eps < o.cut * (1 - 1e-9) * (1 - 1e-6); // then p below the cut means v = max(p, eps) too
    lo[at] = eps_low ? b + log(o.cut * (1 - 1e-9)) - margin : -INFINITY;
    hi[at] = b + log(o.cut * (1 + 1e-9)) + margin;
    if (isinf(o.cut)) lo[at] = hi[at] = INFINITY;
}

// Step (b, c) for columns and diagonals in two kernels, each probe-row cell decided once (it was
// decided twice, once for its column and once for its diagonal, reading the fp32 logits twice).
// A cell (r, j) of head y's probe row r (position i0 + r, i0 = n - w) is causal when j <= i0 + r;
// it is on when u = z · scale >= lo[y][r] and (u > hi[y][r] or on_cell(e^(u - mx) / sum)) (probe_cuts).
// Column j has the cells of rows r >= max(j - i0, 0), diagonal o those of rows r >= max(o - i0, 0)
// at j = i0 + r - o: cells = n - max(c, i0) for c = j or o, matched iff cells >= min_cells and
// on / cells >= mu (diagonal 0 always); sel[y][j] and sel[y][n + o].

// (1) grid (ceil(n / THREADS), heads), thread = column j: the on-bits of its cells into
// hits[y][r][j / 32] (ballot of a warp's 32 columns; words_per_row = ceil(n / 32); rows r >= w of
// the chunk's w_max are not written) and the column's match into sel[y][j]. Eight rows' logits are
// loaded before they are decided (loads in flight).
__global__ void online_cells(const float *z, int n, int w_max, double scale, const double *mx, const double *sum,
                             const double *lo, const double *hi, const est_dam_online_head *par, int words_per_row,
                             unsigned *hits, uint8_t *sel) {
    constexpr int U = 8;
    const int j = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y, lane = threadIdx.x & 31;
    const est_dam_online_head p = par[y];
    const int w = p.w, i0 = n - w, r_first = j > i0 ? j - i0 : 0;
    const float *zy = z + (long)y * w_max * n;
    const long at = (long)y * w_max;
    unsigned *hy = hits + (long)y * w_max * words_per_row + (j >> 5);
    int hit = 0;
    for (int r0 = 0; r0 < w; r0 += U) { // every lane of the warp runs every row (the ballot)
        float zu[U];
#pragma unroll
        for (int u = 0; u < U; u++) zu[u] = j < n && r0 + u < w && r0 + u >= r_first ? zy[(long)(r0 + u) * n + j] : 0.f;
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int r = r0 + u;
            if (r >= w) break; // uniform over the CTA (one head)
            bool on = false;
            if (j < n && r >= r_first) {
                const double x = __dmul_rn((double)zu[u], scale); // never fused into the exp's argument (the CPU's u)
                on = x >= lo[at + r] && (x > hi[at + r] || on_cell(p.rule, exp(x - mx[at + r]) / sum[at + r]));
            }
            const unsigned word = __ballot_sync(0xffffffffu, on);
            if (lane == 0 && j < n) hy[(long)r * words_per_row] = word;
            hit += on;
        }
    }
    if (j < n) {
        const int cells = n - (j > i0 ? j : i0);
        sel[(long)y * 2 * n + j] = cells >= p.min_cells && (double)hit / cells >= p.mu;
    }
}

// (2) grid (ceil(n / THREADS), heads), thread = diagonal o: its on-cells counted from hits, the
// match into sel[y][n + o].
__global__ void online_diagonals(int n, int w_max, const est_dam_online_head *par, int words_per_row, const unsigned *hits,
                                 uint8_t *sel) {
    const int o = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y;
    if (o >= n) return;
    const est_dam_online_head p = par[y];
    const int w = p.w, i0 = n - w;
    const unsigned *hy = hits + (long)y * w_max * words_per_row;
    int hit = 0;
    for (int r = o > i0 ? o - i0 : 0; r < w; r++) {
        const int j = i0 + r - o;
        hit += hy[(long)r * words_per_row + (j >> 5)] >> (j & 31) & 1u;
    }
    const int cells = n - (o > i0 ? o : i0);
    sel[(long)y * 2 * n + n + o] = o == 0 || (cells >= p.min_cells && (double)hit / cells >= p.mu);
}

// Step (c) for blocks, one warp per query block qb (MAP_QB per CTA), grid.y = head y: block (qb, kb)
// matches iff over its causal cells (row i keeps c(i, kb) keys, each with p = A[qb][kb] / c) the
// on-cells are >= mu of >= min_cells cells; sets bit kb of bits[y][qb]. A packed as block_map writes
// it. Off the diagonal (kb < qb) every row keeps all 64 keys of the block, so the block is all on or
// all off.
__global__ void online_blocks(const double *A, int n, int nb, int words, const est_dam_online_head *par,
                              unsigned long long *bits) {
    const int qb = blockIdx.x * MAP_QB + (threadIdx.x >> 5), lane = threadIdx.x & 31, y = blockIdx.y;
    if (qb >= nb) return;
    const int r0 = qb * BLOCK, r1 = min(r0 + BLOCK, n);
    const est_dam_online_head p = par[y];
    const long base = (long)y * nb * (nb + 1) / 2 + (long)qb * (qb + 1) / 2;
    unsigned long long *row = bits + ((long)y * nb + qb) * words;
    for (int kb = lane; kb <= qb; kb += 32) {
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

// The probe rows' softmax statistics, one CTA per probe row r (position i = n - w + r), grid.y = head y:
// mx[y][r] = the maximum of u = z · scale over the causal keys j <= i (float64), sum[y][r] = the sum of
// e^(u - mx) over them, and tot[y][r][kb] = that sum over key block kb alone (0 past i / 64). Eight
// lanes per key block, eight keys per lane, then tree reductions; ROW_THREADS threads per CTA, the
// maximum by strided_max.
__global__ void __launch_bounds__(ROW_THREADS) probe_stats(const float *z, int n, int w_max, int nb, double scale,
                                                           const est_dam_online_head *par, double *mx, double *sum,
                                                           double *tot) {
    __shared__ double red[ROW_THREADS / 32];
    const int r = blockIdx.x, y = blockIdx.y, w = par[y].w;
    if (r >= w) return; // the whole CTA
    const int i = n - w + r, sub = threadIdx.x & 7;
    const float *zr = z + ((long)y * w_max + r) * n;
    const double m = block_max<ROW_THREADS>((double)strided_max<ROW_THREADS>(zr, i + 1) * scale, red);
    double s = 0;
    double *tr = tot + ((long)y * w_max + r) * nb;
    const int groups = ROW_THREADS / 8, nb_pad = (nb + groups - 1) / groups * groups; // whole groups of 8 lanes iterate
    for (int kb = threadIdx.x >> 3; kb < nb_pad; kb += groups) {
        double e = 0;
        const int j0 = kb * BLOCK + sub * 8, j1 = min(j0 + 8, i + 1);
        for (int j = j0; j < j1; j++) e += exp((double)zr[j] * scale - m);
        for (int o = 4; o > 0; o >>= 1) e += __shfl_xor_sync(0xffffffffu, e, o);
        if (sub == 0 && kb < nb) tr[kb] = e, s += e;
    }
    s = block_sum<ROW_THREADS>(s, red);
    if (threadIdx.x == 0) mx[(long)y * w_max + r] = m, sum[(long)y * w_max + r] = s;
}

// The 64 bits of head y's matched columns and diagonals over key word v (keys 64 v .. 64 v + 63) for
// row i: column bits OR 64 bits of the reversed diagonals from s = n - 1 - i + 64 v (pattern_bits).
__device__ inline unsigned long long pattern_word(const unsigned long long *cy, const unsigned long long *dy, int n,
                                                  long i, long v) {
    const long s = n - 1 - i + 64 * v; // <= n - 1 for v <= i / 64: word s / 64 + 1 exists (zero word nw)
    const int sh = (int)(s & 63);
    return cy[v] | dy[s >> 6] >> sh | (sh ? dy[(s >> 6) + 1] << (64 - sh) : 0ull);
}

// The gate's inputs, one CTA per probe row r, grid.y = head y, one thread per key block kb <= i / 64:
// a kept block contributes its whole mass tot[y][r][kb] to the kept mass; another, the e^(u - mx) of its
// keys that a column or diagonal keeps (exp only for those), and the rest of tot is what adding the
// block would give. Then (in place) tot[y][r][kb] becomes that missing mass / sum (0 for kept blocks
// and kb > i / 64), and base[y][r] = the kept mass / sum.
__global__ void online_gate(const float *z, int n, int w_max, int nb, int nw, int words, double scale, const double *mx,
                            const double *sum, const est_dam_online_head *par, const unsigned long long *cols,
                            const unsigned long long *rdiag, const unsigned long long *bits, double *base,
                            double *res) {
    __shared__ double red[THREADS / 32];
    const int r = blockIdx.x, y = blockIdx.y, w = par[y].w;
    if (r >= w) return; // the whole CTA
    const int i = n - w + r, qb = i / BLOCK;
    const float *zr = z + ((long)y * w_max + r) * n;
    const double m = mx[(long)y * w_max + r], s = sum[(long)y * w_max + r];
    const unsigned long long *cy = cols + (long)y * (nw + 1), *dy = rdiag + (long)y * (nw + 1);
    const unsigned long long *brow = bits + ((long)y * nb + qb) * words;
    double *res_r = res + ((long)y * w_max + r) * nb;
    double kept = 0;
    for (int kb = threadIdx.x; kb < nb; kb += THREADS) {
        double miss = 0;
        if (kb <= qb) {
            const double tot = res_r[kb];
            if (brow[kb >> 6] >> (kb & 63) & 1) kept += tot;
            else {
                unsigned long long keep = pattern_word(cy, dy, n, i, kb);
                if (kb == qb) keep &= i - 64 * kb >= 63 ? ~0ull : (2ull << (i - 64 * kb)) - 1;
                double kp = 0;
                for (; keep; keep &= keep - 1) kp += exp((double)zr[64 * kb + __ffsll((long long)keep) - 1] * scale - m);
                kept += kp;
                miss = fmax(tot - kp, 0.0);
            }
        }
        res_r[kb] = miss / s;
    }
    kept = block_sum(kept, red);
    if (threadIdx.x == 0) base[(long)y * w_max + r] = kept / s;
}

// offsets[y · nb + qb] = y · cells + qb (qb + 1) / 2 for y · nb + qb <= heads · nb: the sort's segments,
// the rows of every head's packed lower-triangular map.
__global__ void map_rows(int nb, int heads, int *offsets) {
    const long t = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t > (long)heads * nb) return;
    const long y = t / nb, qb = t % nb;
    offsets[t] = (int)(y * nb * (nb + 1) / 2 + qb * (qb + 1) / 2);
}

// Largest nb sorted in shared memory (4096 doubles + 4096 16-bit indices: 40 KB); longer rows (n >
// 256K tokens) go through CUB's segmented sort (also when the environment variable
// DAM_CUDA_EST_CUB_SORT is set: the test compares the two paths). SELECT_MAX: the deepening picks up
// to this many key blocks of a row by repeated selection instead of sorting the row.
enum { SORT_MAX = 4096, SELECT_MAX = 16 };

// The order of a row's key blocks: a before b iff A_a > A_b, or equal and a < b (est_order_desc's).
__device__ inline bool before(double a, int ia, double b, int ib) { return a > b || (a == b && ia < ib); }

// The packed row A[base .. base + len) sorted by `before` into shared sk (keys) and si (indices
// 0 .. len-1), padded to a power of two with -inf (bitonic_sort_desc); all threads of the CTA take
// part.
__device__ void sort_row(const double *A, long base, int len, double *sk, unsigned short *si) {
    int P = 1;
    while (P < len) P <<= 1;
    for (int e = threadIdx.x; e < P; e += blockDim.x) {
        sk[e] = e < len ? A[base + e] : -INFINITY;
        si[e] = (unsigned short)(e < len ? e : 0xffff);
    }
    bitonic_sort_desc(sk, si, P);
}

// The rows the gate reads, query blocks qb >= qb_lo (those of the probe rows), one CTA per (qb, head
// y): the key block indices by `before` into sorted[y][qb (qb + 1) / 2 + t]. nb <= SORT_MAX.
__global__ void sort_probe_rows(const double *A, int nb, int qb_lo, int *sorted) {
    __shared__ double sk[SORT_MAX];
    __shared__ unsigned short si[SORT_MAX];
    const int qb = qb_lo + blockIdx.x, y = blockIdx.y;
    const long base = (long)y * nb * (nb + 1) / 2 + (long)qb * (qb + 1) / 2;
    sort_row(A, base, qb + 1, sk, si);
    for (int t = threadIdx.x; t <= qb; t += blockDim.x) sorted[base + t] = si[t];
}

// The deepening, one CTA per (qb, head y): query block qb keeps its first t1 = min(depth[y], qb + 1)
// key blocks by `before` (sets their bits in bits[y][qb]). t1 = qb + 1: the whole causal row; rows of
// the probe blocks (qb >= qb_lo): from sort_probe_rows' order; otherwise t1 <= SELECT_MAX picks by
// repeated block-wide selection of the next block in the order, else the row is sorted. Nothing for
// dense heads (depth == nb). nb <= SORT_MAX.
__global__ void deepen_rows(const double *A, const int *sorted, int nb, int words, int qb_lo, const int *depth,
                            unsigned long long *bits) {
    __shared__ double sk[SORT_MAX];
    __shared__ unsigned short si[SORT_MAX];
    __shared__ double rk[THREADS / 32];
    __shared__ int ri[THREADS / 32];
    const int qb = blockIdx.x, y = blockIdx.y, dep = depth[y];
    if (dep >= nb) return;
    const int t1 = min(dep, qb + 1), lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const long base = (long)y * nb * (nb + 1) / 2 + (long)qb * (qb + 1) / 2;
    unsigned long long *row = bits + ((long)y * nb + qb) * words;
    if (t1 == 0) return;
    if (t1 == qb + 1 || qb >= qb_lo) {
        for (int t = threadIdx.x; t < t1; t += blockDim.x) {
            const int kb = t1 == qb + 1 ? t : sorted[base + t];
            atomicOr(row + (kb >> 6), 1ull << (kb & 63));
        }
        return;
    }
    if (t1 > SELECT_MAX) {
        sort_row(A, base, qb + 1, sk, si);
        for (int t = threadIdx.x; t < t1; t += blockDim.x) atomicOr(row + (si[t] >> 6), 1ull << (si[t] & 63));
        return;
    }
    double pk = INFINITY; // the last pick (pk, pi): the next is the first block after it
    int pi = -1;
    for (int k = 0; k < t1; k++) {
        double bk = -INFINITY;
        int bi = 0x7fffffff;
        for (int e = threadIdx.x; e <= qb; e += blockDim.x) {
            const double a = A[base + e];
            if (before(pk, pi, a, e) && before(a, e, bk, bi)) bk = a, bi = e;
        }
        for (int o = 16; o > 0; o >>= 1) {
            const double ok = __shfl_xor_sync(0xffffffffu, bk, o);
            const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            if (before(ok, oi, bk, bi)) bk = ok, bi = oi;
        }
        __syncthreads(); // the previous round's reads of rk / ri are done
        if (lane == 0) rk[warp] = bk, ri[warp] = bi;
        __syncthreads();
        pk = rk[0], pi = ri[0];
        for (int w = 1; w < THREADS / 32; w++)
            if (before(rk[w], ri[w], pk, pi)) pk = rk[w], pi = ri[w];
        if (threadIdx.x == 0) row[pi >> 6] |= 1ull << (pi & 63);
    }
}

// Key block of rank t of query block qb of head y (t <= qb), from the sorted rows (key block
// indices, or cell indices qb · nb + kb from CUB's sort: both give kb modulo nb).
__device__ inline int ranked(const int *sorted, int nb, int y, int qb, int t) {
    return sorted[(long)y * nb * (nb + 1) / 2 + (long)qb * (qb + 1) / 2 + t] % nb;
}

// inc[y][t] = the mass the gate's depth t adds over head y's probe rows: the sum over r with
// t <= qb_r = (n - w + r) / 64 of res[y][r][rank t of qb_r]. One warp per (t, head y), lanes over r.
__global__ void gate_increments(const double *res, const int *sorted, int n, int w_max, int nb,
                                const est_dam_online_head *par, double *inc) {
    const int t = (int)(((long)blockIdx.x * blockDim.x + threadIdx.x) >> 5), lane = threadIdx.x & 31, y = blockIdx.y;
    const int w = par[y].w;
    if (t >= nb) return; // whole warps
    double a = 0;
    for (int r = lane; r < w; r += 32) {
        const int qb = (n - w + r) / BLOCK;
        if (t <= qb) a += res[((long)y * w_max + r) * nb + ranked(sorted, nb, y, qb, t)];
    }
    for (int o = 16; o > 0; o >>= 1) a += __shfl_xor_sync(0xffffffffu, a, o);
    if (lane == 0) inc[(long)y * nb + t] = a;
}

// The gate (dam/online.c step d), one CTA per head y: mass = the sum of base over the probe rows;
// depth = the first t with mass + inc[0] + ... + inc[t-1] >= coverage · w, at most nb (dense: every
// causal block of every query block is kept, as dam/online.c decides). The prefix sums are added per
// thread over a contiguous chunk of t, the chunks' totals in order by one thread.
__global__ void gate_depth(const double *base, const double *inc, int w_max, int nb, const est_dam_online_head *par,
                           int *depth) {
    __shared__ double red[THREADS / 32];
    __shared__ double pre[THREADS];
    __shared__ int first;
    const int y = blockIdx.x, w = par[y].w;
    const double target = par[y].coverage * w;
    double mass = 0;
    for (int r = threadIdx.x; r < w; r += THREADS) mass += base[(long)y * w_max + r];
    mass = block_sum(mass, red);
    if (mass >= target) { // the same value in every thread
        if (threadIdx.x == 0) depth[y] = 0;
        return;
    }
    const double *x = inc + (long)y * nb;
    const int chunk = (nb + THREADS - 1) / THREADS, t0 = min(threadIdx.x * chunk, nb), t1 = min(t0 + chunk, nb);
    double loc = 0;
    for (int t = t0; t < t1; t++) loc += x[t];
    pre[threadIdx.x] = loc;
    if (threadIdx.x == 0) first = nb;
    __syncthreads();
    if (threadIdx.x == 0) { // exclusive prefix of the chunk totals
        double acc = 0;
        for (int k = 0; k < THREADS; k++) {
            const double v = pre[k];
            pre[k] = acc;
            acc += v;
        }
    }
    __syncthreads();
    double acc = mass + pre[threadIdx.x];
    for (int t = t0; t < t1; t++) {
        if (acc >= target) {
            atomicMin(&first, t);
            break;
        }
        acc += x[t];
    }
    if (t0 < t1 && acc >= target) atomicMin(&first, t1); // reached with the chunk's last increment
    __syncthreads();
    if (threadIdx.x == 0) depth[y] = first;
}

// The deepening on CUB's path (every row sorted): every query block qb of head y keeps its key blocks
// of rank < min(depth[y], qb + 1). One warp per (qb, y); nothing for dense heads (depth == nb).
__global__ void gate_deepen(const int *sorted, int nb, int words, const int *depth, unsigned long long *bits) {
    const int qb = (int)(((long)blockIdx.x * blockDim.x + threadIdx.x) >> 5), lane = threadIdx.x & 31, y = blockIdx.y;
    if (qb >= nb || depth[y] >= nb) return;
    const int t1 = min(depth[y], qb + 1);
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

// kept[y] += the causal pairs of query block qb's rows that head y's plan keeps: key j <= i of row i
// is kept iff column j, diagonal i - j or block (qb, j / 64) is. One CTA per (qb, head y), one thread
// per 64-key word v <= qb, looping over the block's rows: a kept block counts its causal keys; else
// the word's column bits (the same for every row) OR the row's diagonal bits, which are 64 bits of
// rdiag starting at s(i) = n - 1 - i + 64 v, a window that slides by one bit per row inside the
// three words from s(last row) / 64 (rdiag has a zero word at nw). One atomic per CTA. Nothing for
// dense heads (depth == nb). kept must be 0 before.
__global__ void kept_pairs(const unsigned long long *cols, const unsigned long long *rdiag,
                           const unsigned long long *bits, int n, int nw, int nb, int words, const int *depth,
                           unsigned long long *kept) {
    __shared__ unsigned long long part[THREADS / 32];
    const int qb = blockIdx.x, y = blockIdx.y, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (depth[y] >= nb) return; // the whole CTA
    const unsigned long long *cy = cols + (long)y * (nw + 1), *dy = rdiag + (long)y * (nw + 1);
    const unsigned long long *brow = bits + ((long)y * nb + qb) * words;
    const int r0 = qb * BLOCK, r1 = min(r0 + BLOCK, n);
    unsigned long long cnt = 0;
    for (int v = threadIdx.x; v <= qb; v += blockDim.x) {
        if (brow[v >> 6] >> (v & 63) & 1) { // every causal key of the block
            for (int i = r0; i < r1; i++) cnt += v < qb ? 64 : i - 64 * v + 1;
            continue;
        }
        const unsigned long long cw = cy[v];
        const long s_lo = (long)n - r1 + 64L * v, w0 = s_lo >> 6; // s of the last row
        const unsigned long long d0 = dy[w0], d1 = dy[w0 + 1], d2 = w0 + 2 <= nw ? dy[w0 + 2] : 0ull;
        for (int i = r0; i < r1; i++) {
            const int off = (int)((long)n - 1 - i + 64L * v - 64 * w0); // 0 .. 126
            const int sh = off & 63;
            const unsigned long long a = off < 64 ? d0 : d1, b = off < 64 ? d1 : d2;
            unsigned long long keep = cw | (a >> sh) | (sh ? b << (64 - sh) : 0ull);
            if (v == qb) {
                const int t = i - 64 * v; // keys 64 v .. i are causal
                keep &= t >= 63 ? ~0ull : (2ull << t) - 1;
            }
            cnt += __popcll(keep);
        }
    }
    for (int o = 16; o > 0; o >>= 1) cnt += __shfl_xor_sync(0xffffffffu, cnt, o);
    if (lane == 0) part[warp] = cnt;
    __syncthreads();
    if (threadIdx.x == 0) {
        unsigned long long total = 0;
        for (int k = 0; k < THREADS / 32; k++) total += part[k];
        if (total) atomicAdd(kept + y, total);
    }
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
    const double per_head = 4.0 * w_max * n + 4.0 * w_max * ((n + 31) / 32) + 32.0 * cells + 8.0 * w_max * nb + 8.0 * nb * words + 8.0 * nb * d + 2.0 * n;
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
        // (a) the probe rows: one product per run of heads with the same KV head and w
        float *z = (float *)grow(&ws->z, sizeof(float) * (size_t)hc * w_max * n, "dam_online logits");
        double *mx = (double *)grow(&ws->mx, sizeof(double) * (size_t)hc * w_max, "dam_online row maxima");
        double *sum = (double *)grow(&ws->sum, sizeof(double) * (size_t)hc * w_max, "dam_online row sums");
        for (int y = 0; y < hc;) {
            const int h = c0 + y, w = pc[y].w;
            int run = 1;
            while (y + run < hc && (h + run) / group == h / group && pc[y + run].w == w) run++;
            gemm_nt(ws, z + (long)y * w_max * n, n, q + (long)(n - w) * q_stride + (long)h * d, q_stride,
                    k + (long)(h / group) * kv_cap * d, d, w, n, d, run, d, 0, (long)w_max * n);
            y += run;
        }
        double *d_res = (double *)grow(&ws->gate_res, sizeof(double) * (size_t)hc * w_max * nb, "dam_online block mass");
        probe_stats<<<dim3(w_max, hc), ROW_THREADS>>>(z, n, w_max, nb, scale, d_par, mx, sum, d_res);
        CUDA_LAUNCH_CHECK("probe_stats");
        double *lo = (double *)grow(&ws->cum, sizeof(double) * (size_t)hc * w_max * 2, "dam_online probe cuts"), *hi = lo + (long)hc * w_max;
        probe_cuts<<<dim3(blocks_for(w_max), hc), THREADS>>>(mx, sum, w_max, d_par, lo, hi);
        CUDA_LAUNCH_CHECK("probe_cuts");
        // (b, c) columns and diagonals
        uint8_t *d_sel = (uint8_t *)grow(&ws->sel, (size_t)hc * 2 * n, "dam_online patterns");
        const int hit_words = (n + 31) / 32;
        unsigned *hits = (unsigned *)grow(&ws->hits, sizeof(unsigned) * (size_t)hc * w_max * hit_words, "dam_online on-cells");
        online_cells<<<dim3(blocks_for(n), hc), THREADS>>>(z, n, w_max, scale, mx, sum, lo, hi, d_par, hit_words, hits, d_sel);
        CUDA_LAUNCH_CHECK("online_cells");
        online_diagonals<<<dim3(blocks_for(n), hc), THREADS>>>(n, w_max, d_par, hit_words, hits, d_sel);
        CUDA_LAUNCH_CHECK("online_diagonals");
        // (a) block map; (b, c) blocks
        double *qbar = (double *)grow(&ws->means, sizeof(double) * (size_t)hc * nb * d, "dam_online query means");
        double *A = (double *)grow(&ws->keys, sizeof(double) * (size_t)hc * cells, "dam_online block map");
        int *vals = (int *)grow(&ws->vals, sizeof(int) * (size_t)hc * cells, "dam_online block cells");
        unsigned long long *bits = (unsigned long long *)grow(&ws->bits, sizeof(uint64_t) * (size_t)hc * nb * words,
                                                              "dam_online blocks");
        row_means<<<dim3(blocks_for((long)nb * d), hc), THREADS>>>((const __nv_bfloat16 *)q + (long)c0 * d, d, q_stride,
                                                                   0, n, d, BLOCK, qbar);
        CUDA_LAUNCH_CHECK("row_means");
        block_map<<<dim3((nb + MAP_QB - 1) / MAP_QB, hc), 32 * MAP_QB>>>(qbar, kbar, c0, group, nb, d, scale, A, vals);
        CUDA_LAUNCH_CHECK("block_map");
        CUDA_CHECK(cudaMemsetAsync(bits, 0, sizeof(uint64_t) * (size_t)hc * nb * words, 0));
        online_blocks<<<dim3((nb + MAP_QB - 1) / MAP_QB, hc), 32 * MAP_QB>>>(A, n, nb, words, d_par, bits);
        CUDA_LAUNCH_CHECK("online_blocks");
        // (d) the gate's inputs
        unsigned long long *pat = (unsigned long long *)grow(&ws->patbits, sizeof(uint64_t) * (size_t)hc * 2 * (nw + 1),
                                                             "dam_online pattern bits");
        unsigned long long *cols = pat, *rdiag = pat + (long)hc * (nw + 1);
        pattern_bits<<<dim3(blocks_for(nw + 1), hc), THREADS>>>(d_sel, n, nw, cols, rdiag);
        CUDA_LAUNCH_CHECK("pattern_bits");
        double *d_base = (double *)grow(&ws->gate_base, sizeof(double) * (size_t)hc * w_max, "dam_online kept mass");
        online_gate<<<dim3(w_max, hc), THREADS>>>(z, n, w_max, nb, nw, words, scale, mx, sum, d_par, cols, rdiag, bits, d_base,
                                                  d_res);
        CUDA_LAUNCH_CHECK("online_gate");
        // the probe blocks' key blocks by A descending (ties: lower kb): their rows of the maps, sorted
        // (CUB's path: every row, for the deepening too)
        const bool cub_sort = nb > SORT_MAX || cub_sort_forced();
        const int qb_lo = (n - w_max) / BLOCK;
        const int *sorted;
        if (!cub_sort) {
            int *out = (int *)grow(&ws->vals_out, sizeof(int) * (size_t)hc * cells, "dam_online ranks");
            sort_probe_rows<<<dim3(nb - qb_lo, hc), THREADS>>>(A, nb, qb_lo, out);
            CUDA_LAUNCH_CHECK("sort_probe_rows");
            sorted = out;
        } else {
            int *off = (int *)grow(&ws->offsets, sizeof(int) * ((size_t)hc * nb + 1), "dam_online map rows");
            map_rows<<<blocks_for((long)hc * nb + 1), THREADS>>>(nb, hc, off);
            CUDA_LAUNCH_CHECK("map_rows");
            segmented_sort(ws, hc * cells, hc * nb);
            sorted = (const int *)ws->vals_out.p;
        }
        // (d) the gate: depth, deepening, kept pairs
        double *inc = (double *)grow(&ws->inc, sizeof(double) * (size_t)hc * nb, "dam_online gate increments");
        int *d_depth = (int *)grow(&ws->counts, sizeof(int) * (size_t)hc, "dam_online gate depth");
        gate_increments<<<dim3(blocks_for(32L * nb), hc), THREADS>>>(d_res, sorted, n, w_max, nb, d_par, inc);
        CUDA_LAUNCH_CHECK("gate_increments");
        gate_depth<<<hc, THREADS>>>(d_base, inc, w_max, nb, d_par, d_depth);
        CUDA_LAUNCH_CHECK("gate_depth");
        if (cub_sort) {
            gate_deepen<<<dim3(blocks_for(32L * nb), hc), THREADS>>>(sorted, nb, words, d_depth, bits);
            CUDA_LAUNCH_CHECK("gate_deepen");
        } else {
            deepen_rows<<<dim3(nb, hc), THREADS>>>(A, sorted, nb, words, qb_lo, d_depth, bits);
            CUDA_LAUNCH_CHECK("deepen_rows");
        }
        unsigned long long *d_kept = (unsigned long long *)grow(&ws->kept, sizeof(uint64_t) * (size_t)hc, "dam_online kept pairs");
        CUDA_CHECK(cudaMemsetAsync(d_kept, 0, sizeof(uint64_t) * (size_t)hc, 0));
        kept_pairs<<<dim3(nb, hc), THREADS>>>(cols, rdiag, bits, n, nw, nb, words, d_depth, d_kept);
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
    ws->map_n = h1 - h0 == 1 ? n : 0;
}

extern "C" void est_cuda_dam_online_map(est_cuda_ws *ws, int n, double *A) {
    if (ws->map_n != n)
        dam_die(DAM_EXIT_RUNTIME, "internal error: est_cuda_dam_online_map(n %d) without a one-head est_cuda_dam_online call of that n just before", n);
    const int nb = (n + BLOCK - 1) / BLOCK;
    const long cells = (long)nb * (nb + 1) / 2;
    double *packed = (double *)dam_malloc(sizeof(double) * (size_t)cells, "dam_online block map (host)");
    CUDA_CHECK(cudaMemcpy(packed, ws->keys.p, sizeof(double) * (size_t)cells, cudaMemcpyDeviceToHost));
    for (int qb = 0; qb < nb; qb++)
        for (int kb = 0; kb < nb; kb++) A[(size_t)qb * nb + kb] = kb <= qb ? packed[(long)qb * (qb + 1) / 2 + kb] : 0.0;
    dam_free(packed);
}
