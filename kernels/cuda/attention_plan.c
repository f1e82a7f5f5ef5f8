/* attention_plan.c — MaskPlans -> host tile lists of the masked CUDA kernel. See attention_plan.h
 * and docs/cuda.md ("Plan conversion"). */
#include "kernels/cuda/attention_plan.h"
#include "kernels/cuda/attention_wgmma.h"

#include <omp.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#ifdef __BMI2__
#include <immintrin.h>
#endif

#include "core/error.h"
#include "core/mem.h"

enum { T = ATTN_CUDA_TILE };      /* rows of a query tile, keys of a key tile */
enum { GATHER_MAX_KEYS = 48 };    /* a visited tile whose rows use at most this many distinct keys may be gathered */
enum { BLOCKS_PER_THREAD = 8 };   /* work blocks per thread (dynamic schedule: load balance) */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* Asks the kernel for transparent huge pages (2 MB) over the whole 2 MB pages inside [p, p + bytes)
 * (arrays of 4 MB and more): the plan's output arrays are tens of MB, written once, and faulting
 * them in 4 KB pages cost about a third of a vertical-slash build. Advice only: no effect where THP
 * is off, and the memory is still dam_malloc'd and freed with dam_free. */
static void *advise_huge(void *p, size_t bytes) {
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20, a = ((uintptr_t)p + huge - 1) & ~(huge - 1),
                    b = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (bytes >= 2 * huge && b > a) madvise((void *)a, b - a, MADV_HUGEPAGE);
#else
    (void)bytes;
#endif
    return p;
}

/* ---- output arrays reused across builds ----
 * A layer's plan is built, uploaded and freed, and the next layer's arrays have about the same
 * size, so attn_cuda_plan_host_free keeps the largest entries, gather and words arrays (of at least
 * BUF_MIN bytes) of the freed plans, one per kind, and the next build takes them when large
 * enough: no page faults and no zeroing of fresh memory (half the system time of a build). Every
 * byte a plan exposes is written by the build; the bytes past them are never read. The kept
 * arrays stay dam_malloc'd (they count in dam_mem_in_use) until attn_cuda_plan_host_release. */
enum { BUF_ENTRIES, BUF_GATHER, BUF_WORDS, BUF_BITS /* block bits (attn_plan_bits_take): kept at any size */, N_BUFS };
enum { BUF_MIN = 1 << 20 };
static pthread_mutex_t buf_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void *p;
    size_t bytes;
} buf_kept[N_BUFS];

/* An array of at least `bytes` bytes for output kind k (the kept one if it is large enough, else a
 * new one, advised huge); *cap = its size in bytes. bytes = 0: the kept one whatever its size, or
 * NULL (*cap = 0). Owned by the caller (buf_give or dam_free). */
static void *buf_take(int k, size_t bytes, size_t *cap, const char *what) {
    void *p = NULL;
    pthread_mutex_lock(&buf_lock);
    if (buf_kept[k].p && buf_kept[k].bytes >= bytes) {
        p = buf_kept[k].p;
        *cap = buf_kept[k].bytes;
        buf_kept[k].p = NULL;
        buf_kept[k].bytes = 0;
    }
    pthread_mutex_unlock(&buf_lock);
    if (p || bytes == 0) {
        if (!p) *cap = 0;
        return p;
    }
    *cap = bytes;
    return advise_huge(dam_malloc(bytes, what), bytes);
}

/* Gives back array p of kind k (cap bytes; NULL is a no-op): kept if it is at least BUF_MIN bytes
 * and larger than the kept one (which is then freed), else freed. */
static void buf_give(int k, void *p, size_t cap) {
    if (!p) return;
    pthread_mutex_lock(&buf_lock);
    if ((cap >= BUF_MIN || k == BUF_BITS) && cap > buf_kept[k].bytes) {
        void *old = buf_kept[k].p;
        buf_kept[k].p = p;
        buf_kept[k].bytes = cap;
        p = old;
    }
    pthread_mutex_unlock(&buf_lock);
    dam_free(p);
}

uint64_t *attn_plan_bits_take(size_t words, size_t *cap) {
    return buf_take(BUF_BITS, sizeof(uint64_t) * (words ? words : 1), cap, "attention plan block bits");
}

void attn_plan_bits_give(uint64_t *bits, size_t cap) { buf_give(BUF_BITS, bits, cap); }

void attn_cuda_plan_host_release(void) {
    pthread_mutex_lock(&buf_lock);
    for (int k = 0; k < N_BUFS; k++) {
        dam_free(buf_kept[k].p);
        buf_kept[k].p = NULL;
        buf_kept[k].bytes = 0;
    }
    pthread_mutex_unlock(&buf_lock);
}

/* Keys j0 .. pos of the 64-key tile at j0 (causality). */
static uint64_t causal_word(int64_t pos, int64_t j0) {
    if (pos < j0) return 0;
    return pos - j0 >= 63 ? ~0ull : (2ull << (pos - j0)) - 1;
}

/* The bits of x at the positions set in m, packed into the low bits in ascending order (BMI2 pext). */
static uint64_t pack_bits(uint64_t x, uint64_t m) {
#ifdef __BMI2__
    return _pext_u64(x, m);
#else
    uint64_t r = 0;
    for (int k = 0; m; m &= m - 1, k++) r |= ((x >> __builtin_ctzll(m)) & 1ull) << k;
    return r;
#endif
}

/* The lowest k set bits of m (0 <= k; all of m when k >= its popcount): BMI2 pdep deposits k ones
 * into m's set positions, lowest first. */
static uint64_t low_set_bits(uint64_t m, int k) {
    if (k >= __builtin_popcountll(m)) return m;
#ifdef __BMI2__
    return _pdep_u64((1ull << k) - 1, m);  /* k < popcount <= 64 */
#else
    uint64_t r = 0;
    for (; k > 0; k--, m &= m - 1) r |= m & -m;
    return r;
#endif
}

/* Keys lo .. hi (0 <= lo <= hi <= 63) of a tile as bits. */
static uint64_t range_bits(int64_t lo, int64_t hi) {
    return (hi >= 63 ? ~0ull : (2ull << hi) - 1) & ~((1ull << lo) - 1);
}

/* How the rows of a tile are evaluated (tile_kind). */
enum { TILE_ROWS, TILE_ALL, TILE_CD };
enum { TILE_RUNS_MAX = 8 };  /* runs of consecutive diagonals TILE_CD handles */

/* The columns and diagonal runs that reach one tile (TILE_CD). */
typedef struct {
    uint64_t cols;                   /* columns in the tile, bit t = key 64 kt + t */
    int n_runs;
    int64_t lo[TILE_RUNS_MAX], hi[TILE_RUNS_MAX];  /* runs of consecutive diagonals lo .. hi */
} tile_parts;

/* The columns and diagonals of one plan as bit words, so that a tile finds its parts in O(1):
 * cols[kt] bit t = key 64 kt + t is a column, diags[q] bit t = offset 64 q + t is a diagonal,
 * for kt, q < n_kb (the key tiles of the build; larger values reach no tile). dam_malloc'd by
 * part_words_of, freed by part_words_free. */
typedef struct {
    uint64_t *cols, *diags;  /* [n_kb] each */
} part_words;

static part_words part_words_of(const maskplan *p, int n_kb) {
    part_words w;
    w.cols = dam_calloc((size_t)n_kb, sizeof(uint64_t), "attention plan part words");
    w.diags = dam_calloc((size_t)n_kb, sizeof(uint64_t), "attention plan part words");
    for (int i = 0; i < p->n_cols && p->cols[i] < (int64_t)n_kb * T; i++) w.cols[p->cols[i] / T] |= 1ull << (p->cols[i] % T);
    for (int i = 0; i < p->n_diags && p->diags[i] < (int64_t)n_kb * T; i++)
        w.diags[p->diags[i] / T] |= 1ull << (p->diags[i] % T);
    return w;
}

static void part_words_free(part_words *w) {
    dam_free(w->cols);
    dam_free(w->diags);
}

/* Appends to tp the runs of set bits of x (bit t = diagonal offset base + t), ascending, a run that
 * continues tp's last one extending it; false when that would take more than TILE_RUNS_MAX runs. */
static bool add_runs(tile_parts *tp, uint64_t x, int64_t base) {
    while (x) {
        const int a = __builtin_ctzll(x);
        const uint64_t z = x >> a;
        const int len = z == ~0ull ? 64 : __builtin_ctzll(~z);
        const int64_t lo = base + a, hi = lo + len - 1;
        if (tp->n_runs > 0 && tp->hi[tp->n_runs - 1] + 1 == lo) tp->hi[tp->n_runs - 1] = hi;
        else {
            if (tp->n_runs == TILE_RUNS_MAX) return false;
            tp->lo[tp->n_runs] = lo;
            tp->hi[tp->n_runs] = hi;
            tp->n_runs++;
        }
        x = a + len >= 64 ? 0 : x & (~0ull << (a + len));
    }
    return true;
}

/* For plan p (not dense; pw = part_words_of(p, n_kb) with kt <= qb < n_kb), rows 64 qb .. 64 qb + 63
 * and keys 64 kt .. 64 kt + 63, decided from the parts alone when the rows lie outside the bitmap:
 *   TILE_ALL   every causal pair kept with bias 0: a run of diagonals, a run of columns or a
 *              listed block of bias 0 covers the tile;
 *   TILE_CD    the block pair is not listed, so only columns and diagonals keep pairs here, with
 *              bias 0: *tp gets the tile's columns and the runs (at most TILE_RUNS_MAX) of the
 *              diagonals that reach it, and tile_cd_word gives each row's word;
 *   TILE_ROWS  otherwise (bitmap rows, a biased listed block, many diagonal runs): evaluate the rows
 *              one by one with maskplan_row_word(_bias).
 * The columns and diagonals come from pw in O(1) (plus O(runs)); *blk_cur: a position in qb's
 * key-block list, blk_ptr[qb] at the item's first tile (0 when qb has no list), walked forward
 * (updated; kt must ascend between calls), so a walk over ascending kt costs O(blocks + tiles). */
static int tile_kind(const maskplan *p, const part_words *pw, int64_t qb, int64_t kt, tile_parts *tp, int *blk_cur) {
    if (qb * T < p->bitmap_L) return TILE_ROWS;
    /* offsets p - j of the tile's causal pairs: 0 .. 63 on the diagonal tile (word 0), else
     * 64 q - 63 .. 64 q + 63 with q = qb - kt (bits 1 .. 63 of word q - 1, then word q) */
    const int64_t q = qb - kt;
    const uint64_t dlo = q == 0 ? 0 : pw->diags[q - 1] >> 1, dhi = pw->diags[q];
    if (dhi == ~0ull && (q == 0 || dlo == ~0ull >> 1)) return TILE_ALL;
    if (pw->cols[kt] == ~0ull) return TILE_ALL;
    if (qb < p->n_qblocks) {
        const int b = p->blk_ptr[qb + 1];
        int i = *blk_cur;
        while (i < b && p->blk_idx[i] < kt) i++;
        *blk_cur = i;
        if (i < b && p->blk_idx[i] == kt) return p->blk_bias == NULL || p->blk_bias[i] == 0.0f ? TILE_ALL : TILE_ROWS;
    }
    tp->n_runs = 0;
    if (q > 0 && !add_runs(tp, dlo, q * T - (T - 1))) return TILE_ROWS;
    if (!add_runs(tp, dhi, q * T)) return TILE_ROWS;
    tp->cols = pw->cols[kt];
    return TILE_CD;
}

/* The kept word of row pos in the TILE_CD tile at j0: its columns, and for each diagonal run
 * lo .. hi the keys pos - hi .. pos - lo; causality applied (cw = causal_word(pos, j0)). */
static uint64_t tile_cd_word(const tile_parts *tp, int64_t pos, int64_t j0, uint64_t cw) {
    uint64_t w = tp->cols;
    for (int k = 0; k < tp->n_runs; k++) {
        const int64_t a = pos - tp->hi[k] > j0 ? pos - tp->hi[k] : j0;
        const int64_t b = pos - tp->lo[k] < j0 + T - 1 ? pos - tp->lo[k] : j0 + T - 1;
        if (a <= b) w |= range_bits(a - j0, b - j0);
    }
    return w & cw;
}

/* The 64 kept words of a TILE_CD tile below the diagonal tile (kt < qb: every key is causal) whose
 * 64 rows 64 qb .. 64 qb + 63 are all queries, equal to tile_cd_word row by row, but built one
 * diagonal run at a time over only the rows the run reaches (a run of one diagonal sets one bit per
 * row). Returns the rows' union and sets *r0 .. *r1 to the first and last non-zero row (*r0 = 64,
 * *r1 = -1 when none). */
static uint64_t tile_cd_words_below(const tile_parts *tp, int64_t qb, int64_t kt, uint64_t *w, int *r0, int *r1) {
    for (int r = 0; r < T; r++) w[r] = tp->cols;
    const int64_t base = (qb - kt) * T;  /* offset of row 0 to key slot 0 */
    int lo_row = tp->cols ? 0 : T, hi_row = tp->cols ? T - 1 : -1;
    for (int k = 0; k < tp->n_runs; k++) {
        /* row r keeps slots r - b .. r - a (relative offsets a .. b of the run, -63 .. 63 after clipping) */
        const int a = (int)(tp->lo[k] - base), b = (int)(tp->hi[k] - base);
        const int ra = a > 0 ? a : 0, rb = b + T - 1 < T - 1 ? b + T - 1 : T - 1;  /* rows with r - a >= 0, r - b <= 63 */
        if (a == b)
            for (int r = ra; r <= rb; r++) w[r] |= 1ull << (r - a);
        else
            for (int r = ra; r <= rb; r++) w[r] |= range_bits(r - b > 0 ? r - b : 0, r - a < T - 1 ? r - a : T - 1);
        if (ra <= rb) {
            lo_row = ra < lo_row ? ra : lo_row;
            hi_row = rb > hi_row ? rb : hi_row;
        }
    }
    uint64_t used = 0;
    for (int r = 0; r < T; r++) used |= w[r];
    *r0 = lo_row;
    *r1 = hi_row;
    return used;
}

/* ---- masks: a set of distinct 64 x 64 masks with open-addressing lookup ---- */

typedef struct {
    uint64_t *words;  /* [n][64] */
    uint64_t *hash;   /* [n] mask_hash of each mask */
    int64_t n, cap;
    uint64_t *table;  /* [tcap] (high 32 bits of the hash) << 32 | mask index, or EMPTY; tcap a power of
                       * two, at most half full (the hash bits spare most misses a read of hash[]) */
    size_t tcap;
} mask_set;

/* Hash of a 64-word mask: four independent multiply-xor lanes over words i = lane mod 4, combined
 * at the end (lanes, not one chain, so the multiplies overlap). Only lookups depend on it: mask
 * indices are first-use order whatever the hash. */
static uint64_t mask_hash(const uint64_t *w) {
    uint64_t x[4] = {0x9E3779B97F4A7C15ull, 0xC2B2AE3D27D4EB4Full, 0x165667B19E3779F9ull, 0xD6E8FEB86659FD93ull};
    for (int i = 0; i < T; i += 4)
        for (int l = 0; l < 4; l++) x[l] = (x[l] ^ w[i + l]) * 0xff51afd7ed558ccdull;
    uint64_t h = x[0];
    for (int l = 1; l < 4; l++) h = (h ^ (h >> 29) ^ x[l]) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

#define EMPTY (~0ull) /* a free table slot (no entry has it: indices are < 2^31) */
#define SLOT(h, m) (((h) >> 32 << 32) | (uint64_t)(m))

static void mask_set_rehash(mask_set *s, size_t tcap) {
    dam_free(s->table);
    s->tcap = tcap;
    s->table = dam_malloc(sizeof(uint64_t) * tcap, "attention plan mask hash");
    for (size_t i = 0; i < tcap; i++) s->table[i] = EMPTY;
    for (int64_t m = 0; m < s->n; m++) {
        size_t k = s->hash[m] & (tcap - 1);
        while (s->table[k] != EMPTY) k = (k + 1) & (tcap - 1);
        s->table[k] = SLOT(s->hash[m], m);
    }
}

/* Index of the stored mask equal to w (hash h = mask_hash(w)), storing a copy first if new. */
static int32_t mask_set_intern(mask_set *s, const uint64_t *w, uint64_t h) {
    if (2 * (size_t)(s->n + 1) > s->tcap) mask_set_rehash(s, s->tcap ? 2 * s->tcap : 256);
    size_t k = h & (s->tcap - 1);
    for (; s->table[k] != EMPTY; k = (k + 1) & (s->tcap - 1)) {
        if (s->table[k] >> 32 != h >> 32) continue;  /* the tag (high 32 bits of the hash) spares most compares */
        const int64_t m = (int64_t)(s->table[k] & 0xffffffffu);
        if (memcmp(s->words + m * T, w, sizeof(uint64_t) * T) == 0) return (int32_t)m;
    }
    if (s->n >= INT32_MAX) dam_die(DAM_EXIT_RUNTIME, "attention plan: more than 2^31 masks");
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->words = advise_huge(dam_realloc(s->words, sizeof(uint64_t) * T * (size_t)s->cap, "attention plan masks"),
                               sizeof(uint64_t) * T * (size_t)s->cap);
        s->hash = dam_realloc(s->hash, sizeof(uint64_t) * (size_t)s->cap, "attention plan masks");
    }
    memcpy(s->words + s->n * T, w, sizeof(uint64_t) * T);
    s->hash[s->n] = h;
    s->table[k] = SLOT(h, s->n);
    return (int32_t)s->n++;
}

static void mask_set_free(mask_set *s) {
    dam_free(s->words);
    dam_free(s->hash);
    dam_free(s->table);
}

/* ---- one block of work items: its entries and gathered tiles, written in place into the plan's
 * arrays (sizes counted first), with masks numbered within the block ---- */

typedef struct {
    int32_t *ent;            /* the block's first entry int in h->entries */
    size_t n_ent;            /* entry ints written */
    mask_set masks;
    int32_t *gather;         /* the block's first gathered tile in h->gather: [n_gather][64] */
    int64_t g_base, n_gather;  /* global index of the block's first gathered tile; tiles written */
    int64_t head_tiles;
} block_out;

static void push(block_out *o, int32_t x) { o->ent[o->n_ent++] = x; }

/* Per-thread scratch; the per-visited-tile arrays grow to the largest visited count seen. */
typedef struct {
    uint8_t *visit;     /* [n_kb rounded up to 32] 1 = key tile visited; all 0 between items */
    int32_t *vt;        /* [n_kb] visited key tiles, ascending */
    int cap;            /* visited tiles the arrays below hold */
    uint64_t *tw, *tb;  /* [tile][head][row] kept and biased words */
    const uint64_t **twp; /* [tile][head] the kept words: tw's, or a one-diagonal pattern of plan_ctx */
    int16_t *tpat;      /* [tile][head] that pattern's index (0 .. 2 T - 2), else -1 */
    int32_t pat_mask[2 * T - 1];  /* mask index of each pattern in pat_out's set, -1 = not yet interned */
    const void *pat_out; /* the block output pat_mask refers to (NULL: none) */
    float *tbias;       /* [tile][head] bias value */
    int8_t *tfull;      /* [tile][head] 1 all kept, 0 none, 2 explicit mask */
    int8_t *tbiased;    /* [tile][head] carries a bias mask */
    int8_t *trow;       /* [tile][head][3] first and last row whose kept word may be non-zero; 1 when
                         * every row's word is the same (a tile of columns only, below the diagonal) */
    uint64_t *colmask;  /* [tile] key slots some head / row uses */
    uint8_t *gathered;  /* [tile] packed into gathered tiles */
} scratch;

static void scratch_reserve(scratch *s, int nv, int hc) {
    if (nv <= s->cap) return;
    const size_t c = (size_t)nv;
    s->cap = nv;
    s->tw = dam_realloc(s->tw, sizeof(uint64_t) * c * hc * T, "attention plan scratch");
    s->tb = dam_realloc(s->tb, sizeof(uint64_t) * c * hc * T, "attention plan scratch");
    s->tbias = dam_realloc(s->tbias, sizeof(float) * c * hc, "attention plan scratch");
    s->tfull = dam_realloc(s->tfull, c * hc, "attention plan scratch");
    s->tbiased = dam_realloc(s->tbiased, c * hc, "attention plan scratch");
    s->trow = dam_realloc(s->trow, c * hc * 3, "attention plan scratch");
    s->twp = dam_realloc(s->twp, sizeof(uint64_t *) * c * hc, "attention plan scratch");
    s->tpat = dam_realloc(s->tpat, sizeof(int16_t) * c * hc, "attention plan scratch");
    s->colmask = dam_realloc(s->colmask, sizeof(uint64_t) * c, "attention plan scratch");
    s->gathered = dam_realloc(s->gathered, c, "attention plan scratch");
}

static void scratch_free(scratch *s) {
    dam_free(s->visit); dam_free(s->vt); dam_free(s->tw); dam_free(s->tb); dam_free(s->tbias);
    dam_free(s->tfull); dam_free(s->tbiased); dam_free(s->trow); dam_free(s->twp); dam_free(s->tpat); dam_free(s->colmask); dam_free(s->gathered);
}

/* The diagonals of one plan as runs of consecutive offsets lo[k] .. hi[k], ascending. */
typedef struct {
    int n;
    int32_t *lo, *hi;
} diag_runs;

static diag_runs diag_runs_of(const maskplan *p) {
    diag_runs d = {0, NULL, NULL};
    if (p->dense || p->n_diags == 0) return d;
    d.lo = dam_malloc(sizeof(int32_t) * (size_t)p->n_diags, "attention plan diagonal runs");
    d.hi = dam_malloc(sizeof(int32_t) * (size_t)p->n_diags, "attention plan diagonal runs");
    for (int i = 0; i < p->n_diags; i++) {
        if (d.n > 0 && p->diags[i] == d.hi[d.n - 1] + 1) d.hi[d.n - 1]++;
        else {
            d.lo[d.n] = d.hi[d.n] = p->diags[i];
            d.n++;
        }
    }
    return d;
}

/* maskplan_mark_key_blocks(p, p0, p1, visit, n_kblocks) with the diagonals marked one run at a time:
 * rows a .. p1 (a = max(p0, L), past the bitmap) and a run lo .. hi keep keys a - hi .. p1 - lo
 * (each diagonal's keys form a range and consecutive ranges overlap, so the union is one range),
 * so the cost is O(runs), not O(diagonals). p not dense; the other parts through maskplan. */
static void mark_key_blocks(const maskplan *p, const diag_runs *d, int64_t p0, int64_t p1, uint8_t *visit,
                            int64_t n_kblocks) {
    maskplan rest = *p;
    rest.n_diags = 0;
    rest.diags = NULL;
    maskplan_mark_key_blocks(&rest, p0, p1, visit, n_kblocks);
    const int64_t a = p0 > p->bitmap_L ? p0 : p->bitmap_L;
    for (int k = 0; k < d->n && a <= p1 && d->lo[k] <= p1; k++) {
        const int64_t hi = d->hi[k] < p1 ? d->hi[k] : p1;
        const int64_t klo = a - hi > 0 ? a - hi : 0, khi = p1 - d->lo[k];
        for (int64_t kb = klo / T; kb <= khi / T && kb < n_kblocks; kb++) visit[kb] = 1;
    }
}

/* What every work item shares. */
typedef struct {
    const maskplan *const *plans;
    const diag_runs *runs;  /* [n_heads] diagonal runs of each plan (NULL with plans == NULL) */
    const part_words *pw;   /* [n_heads] column and diagonal words of each plan (zeroed for dense plans;
                             * NULL with plans == NULL) */
    int hc, n_qt, qb0, q_base, n_k, flags;
    const uint64_t *pat;  /* [2 T - 1][T] one diagonal crossing a tile below the diagonal tile: pattern
                           * o + T - 1 (relative offset o = d - 64 (qb - kt), -63 .. 63) keeps slot r - o
                           * in row r (when 0 <= r - o <= 63) */
} plan_ctx;

/* Appends the entry of the gathered tile just started (o->n_gather - 1 of the block) to o: per head of the
 * chunk, the mask over its slots (segment k: the visited tile seg_vi[k]'s keys seg_bits[k], packed
 * from slot seg_t0[k] on), interned, or "none" when empty. */
static void emit_gathered(scratch *s, block_out *o, int hc, const int *seg_vi, const int *seg_t0,
                          const uint64_t *seg_bits, int n_seg) {
    uint64_t w64[T];
    push(o, -(int32_t)(o->g_base + o->n_gather));
    for (int i = 0; i < hc; i++) {
        uint64_t acc = 0;  /* union of the rows' words */
        for (int r = 0; r < T; r++) w64[r] = 0;
        for (int k = 0; k < n_seg; k++) {  /* each segment over the rows its tile's words may use */
            const size_t th = (size_t)seg_vi[k] * hc + i;
            const uint64_t *tw = s->twp[th], sb = seg_bits[k];
            const int lo = __builtin_ctzll(sb), t0 = seg_t0[k];
            const uint64_t run = sb >> lo;  /* contiguous key bits: a shift and a mask pack them */
            const bool contiguous = (run & (run + 1)) == 0;
            const int r0 = s->trow[3 * th], r1 = s->trow[3 * th + 1];
            if (s->trow[3 * th + 2]) {  /* every row the same word: pack it once */
                const uint64_t x = pack_bits(tw[0], sb) << t0;
                for (int r = 0; r < T; r++) w64[r] |= x;
                acc |= x;
            } else if (contiguous)
                for (int r = r0; r <= r1; r++) {
                    const uint64_t x = ((tw[r] >> lo) & run) << t0;
                    w64[r] |= x;
                    acc |= x;
                }
            else
                for (int r = r0; r <= r1; r++) {
                    const uint64_t x = pack_bits(tw[r], sb) << t0;
                    w64[r] |= x;
                    acc |= x;
                }
        }
        const bool any = acc != 0;
        const int32_t mode = any ? mask_set_intern(&o->masks, w64, mask_hash(w64)) : ATTN_PLAN_MODE_NONE;
        o->head_tiles += mode != ATTN_PLAN_MODE_NONE;
        push(o, mode);
        push(o, -1);
        push(o, 0);
    }
}

/* Whether query block qb of plan p (not dense) is decided by unbiased listed blocks alone: p has no
 * columns or diagonals, the block's rows lie past the bitmap, and every block pair qb lists has bias 0
 * (or p has none). Then the tiles rows 64 qb .. 64 qb + 63 use are exactly the listed key blocks,
 * each with every causal pair kept. O(1), or O(blocks listed by qb) with a bias. */
static bool blocks_only(const maskplan *p, int64_t qb) {
    if (p->n_cols || p->n_diags || qb * T < p->bitmap_L) return false;
    if (qb >= p->n_qblocks || p->blk_bias == NULL) return true;
    for (int i = p->blk_ptr[qb]; i < p->blk_ptr[qb + 1]; i++)
        if (p->blk_bias[i] != 0.0f) return false;
    return true;
}

/* build_item for an item whose 64 rows are all queries and whose every head is blocks_only: the
 * visited tiles are the union of the heads' listed key blocks (merged, ascending), each entry "all
 * kept" for the heads that list it and "none" for the others; no words, no masks, nothing gathered
 * (every listed tile uses all 64 keys in row 63). With o == NULL only counts (*n_gather = 0).
 * O(listed blocks · hc) per item, no per-tile classification. */
static int build_blocks_item(block_out *o, const maskplan *const *hp, int hc, int qb, int *n_gather) {
    int cur[4], end[4];
    for (int i = 0; i < hc; i++) {
        const bool has = qb < hp[i]->n_qblocks;
        cur[i] = has ? hp[i]->blk_ptr[qb] : 0;
        end[i] = has ? hp[i]->blk_ptr[qb + 1] : 0;
    }
    if (hc == 1) {  /* one head: the list itself */
        const int32_t *kb = hp[0]->blk_idx;
        const int n = end[0] - cur[0];
        if (!o) {
            *n_gather = 0;
            return n;
        }
        int32_t *e = o->ent + o->n_ent;
        for (int k = cur[0]; k < end[0]; k++, e += 4) {
            e[0] = kb[k];
            e[1] = ATTN_PLAN_MODE_FULL;
            e[2] = -1;
            e[3] = 0;
        }
        o->n_ent += (size_t)n * 4;
        o->head_tiles += n;
        return n;
    }
    int n = 0;
    for (;;) {
        int kt = INT32_MAX;  /* the next key block some head lists */
        for (int i = 0; i < hc; i++)
            if (cur[i] < end[i] && hp[i]->blk_idx[cur[i]] < kt) kt = hp[i]->blk_idx[cur[i]];
        if (kt == INT32_MAX) break;
        n++;
        if (o) push(o, kt);
        for (int i = 0; i < hc; i++) {
            const bool full = cur[i] < end[i] && hp[i]->blk_idx[cur[i]] == kt;
            cur[i] += full;
            if (!o) continue;
            o->head_tiles += full;
            push(o, full ? ATTN_PLAN_MODE_FULL : ATTN_PLAN_MODE_NONE);
            push(o, -1);
            push(o, 0);
        }
    }
    if (!o) *n_gather = 0;
    return n;
}

/* Appends the entries of work item (chunk c, query tile qt) to o; returns their number. With
 * o == NULL only counts: returns the number of entries and sets *n_gather to the number of
 * gathered tiles the item will write (the same work up to the gathering decision). */
static int build_item(const plan_ctx *cx, scratch *s, block_out *o, int c, int qt, int *n_gather) {
    const int hc = cx->hc, qb = cx->qb0 + qt;
    const maskplan *const *hp = cx->plans ? cx->plans + (size_t)c * hc : NULL;
    const int64_t plo = (int64_t)qb * T > cx->q_base ? (int64_t)qb * T : cx->q_base;
    const int64_t phi = (int64_t)qb * T + T - 1 < cx->n_k - 1 ? (int64_t)qb * T + T - 1 : cx->n_k - 1;
    const bool shortcut = !(cx->flags & ATTN_PLAN_NO_SHORTCUT);
    if (shortcut && hp && plo == (int64_t)qb * T && phi == (int64_t)qb * T + T - 1) {
        bool blocks = true;
        for (int i = 0; i < hc && blocks; i++) blocks = !hp[i]->dense && blocks_only(hp[i], qb);
        if (blocks) return build_blocks_item(o, hp, hc, qb, n_gather);
    }
    for (int i = 0; i < hc; i++) {
        if (!hp || hp[i]->dense) memset(s->visit, 1, (size_t)qb + 1);
        else if (!shortcut) maskplan_mark_key_blocks(hp[i], plo, phi, s->visit, qb + 1);
        else mark_key_blocks(hp[i], &cx->runs[(size_t)c * hc + i], plo, phi, s->visit, qb + 1);
    }
    /* the visited key tiles, ascending, clearing visit behind: 8 bytes at a time, each visited byte
     * is 1, i.e. bit 8 t of the word (bytes past qb are 0; visit is padded to 32 bytes) */
    int nv = 0;
    for (int w0 = 0; w0 <= qb; w0 += 8) {
        uint64_t x;
        memcpy(&x, s->visit + w0, sizeof x);
        if (!x) continue;
        memset(s->visit + w0, 0, sizeof x);
        for (; x; x &= x - 1) s->vt[nv++] = w0 + __builtin_ctzll(x) / 8;
    }
    scratch_reserve(s, nv, hc);
    /* pass 1: the kept (and biased) words of every visited tile, head and row; blk_cur: tile_kind's
     * position in each head's key-block list (kt ascends) */
    int blk_cur[4];
    for (int i = 0; i < hc; i++) {
        blk_cur[i] = hp && !hp[i]->dense && qb < hp[i]->n_qblocks ? hp[i]->blk_ptr[qb] : 0;
    }
    for (int vi = 0; vi < nv; vi++) {
        const int kt = s->vt[vi];
        const int64_t j0 = (int64_t)kt * T;
        s->colmask[vi] = 0;
        for (int i = 0; i < hc; i++) {
            const maskplan *pl = hp ? hp[i] : NULL;
            const bool dense = !pl || pl->dense, has_bias = !dense && maskplan_has_bias(pl);
            tile_parts tp;  /* set by tile_kind when it returns TILE_CD (read only then) */
            tp.n_runs = 0;
            tp.cols = 0;
            const int kind = dense ? TILE_ALL : shortcut ? tile_kind(pl, &cx->pw[(size_t)c * hc + i], qb, kt, &tp, &blk_cur[i]) : TILE_ROWS;
            const size_t th = (size_t)vi * hc + i;
            if (kind == TILE_ALL && shortcut && plo == (int64_t)qb * T && phi == (int64_t)qb * T + T - 1) {
                /* all 64 rows, every causal pair: row 63 uses all 64 keys, so the tile is never
                 * gathered and its words are never read */
                s->tfull[th] = 1;
                s->tbiased[th] = 0;
                s->tbias[th] = 0.f;
                s->colmask[vi] = ~0ull;
                continue;
            }
            uint64_t *kept = s->tw + th * T, *biased = s->tb + th * T;
            s->twp[th] = kept;
            s->tpat[th] = -1;
            s->trow[3 * th] = 0;
            s->trow[3 * th + 1] = T - 1;
            s->trow[3 * th + 2] = 0;
            if (kind == TILE_CD && kt < qb && plo == (int64_t)qb * T && phi == (int64_t)qb * T + T - 1) {
                /* below the diagonal tile, all rows (every key causal) */
                if (!o) {  /* counting: only the keys used (run a .. b reaches keys -b .. 63 - a) */
                    uint64_t used = tp.cols;
                    for (int k = 0; k < tp.n_runs; k++) {
                        const int64_t a = tp.lo[k] - ((int64_t)qb - kt) * T, b = tp.hi[k] - ((int64_t)qb - kt) * T;
                        const int64_t k0 = -b > 0 ? -b : 0, k1 = T - 1 - a < T - 1 ? T - 1 - a : T - 1;
                        if (k0 <= k1) used |= range_bits(k0, k1);
                    }
                    s->colmask[vi] |= used;
                    s->tbiased[th] = 0;
                    continue;
                }
                if (tp.cols == 0 && tp.n_runs == 1 && tp.lo[0] == tp.hi[0]) {
                    /* one diagonal: a shared pattern, never "all kept" (row 0 or 63 keeps nothing
                     * unless o = 0, and then each row keeps one key) */
                    const int o = (int)(tp.lo[0] - ((int64_t)qb - kt) * T);
                    s->tpat[th] = (int16_t)(o + T - 1);
                    s->twp[th] = cx->pat + (size_t)(o + T - 1) * T;
                    s->trow[3 * th] = (int8_t)(o > 0 ? o : 0);
                    s->trow[3 * th + 1] = (int8_t)(o < 0 ? T - 1 + o : T - 1);
                    s->colmask[vi] |= o >= 0 ? ~0ull >> o : ~0ull << -o;
                    s->tfull[th] = 2;
                    s->tbiased[th] = 0;
                    s->tbias[th] = 0.f;
                    continue;
                }
                /* else one run at a time */
                int r0, r1;
                const uint64_t used = tile_cd_words_below(&tp, qb, kt, kept, &r0, &r1);
                bool full = used == ~0ull;
                for (int r = r0; r <= r1 && full; r++) full = kept[r] == ~0ull;
                full &= r0 == 0 && r1 == T - 1;
                s->trow[3 * th] = (int8_t)r0;
                s->trow[3 * th + 1] = (int8_t)r1;
                s->trow[3 * th + 2] = tp.n_runs == 0;
                s->colmask[vi] |= used;
                s->tfull[th] = !used ? 0 : full ? 1 : 2;
                s->tbiased[th] = 0;
                s->tbias[th] = 0.f;
                continue;
            }
            bool any = false, full = true, any_b = false;
            float bias = 0.f;
            uint64_t used = 0;
            if (has_bias) memset(biased, 0, sizeof(uint64_t) * T);  /* (read only when any_b) */
            for (int r = 0; r < T; r++) {
                const int64_t pos = (int64_t)qb * T + r;
                kept[r] = 0;
                if (pos < plo || pos > phi) continue;
                const uint64_t cw = causal_word(pos, j0);
                uint64_t w;
                if (kind == TILE_ALL) w = cw;
                else if (kind == TILE_CD) w = tile_cd_word(&tp, pos, j0, cw);
                else if (has_bias) {
                    uint64_t bw = 0;
                    float bv = 0.f;
                    w = maskplan_row_word_bias(pl, pos, j0, &bw, &bv);
                    if (bw) {
                        biased[r] = bw;
                        bias = bv;  /* one block pair per tile: one value */
                        any_b = true;
                    }
                } else w = maskplan_row_word(pl, pos, j0);
                kept[r] = w;
                used |= w;
                any |= w != 0;
                full &= w == cw;
            }
            s->colmask[vi] |= used;
            s->tfull[th] = !any ? 0 : full ? 1 : 2;
            s->tbiased[th] = any_b;
            s->tbias[th] = bias;
        }
    }
    /* pass 2: tiles whose rows use few distinct keys (columns, sinks) are packed into gathered
     * 64-key tiles when that lowers the tile count (never tiles with a bias) */
    int n_cand = 0, n_gk = 0;
    for (int vi = 0; vi < nv; vi++) {
        s->gathered[vi] = 0;
        if (cx->flags & ATTN_CUDA_NO_GATHER) continue;
        bool biased = false;
        for (int i = 0; i < hc; i++) biased |= s->tbiased[(size_t)vi * hc + i] != 0;
        const int keys = __builtin_popcountll(s->colmask[vi]);
        if (biased || keys > GATHER_MAX_KEYS) continue;
        s->gathered[vi] = 1;
        n_cand++;
        n_gk += keys;
    }
    if (n_cand < 2 || (n_gk + T - 1) / T >= n_cand) {
        for (int vi = 0; vi < nv; vi++) s->gathered[vi] = 0;
        n_cand = n_gk = 0;
    }
    if (!o) {
        *n_gather = (n_gk + T - 1) / T;
        return *n_gather + nv - n_cand;
    }
    /* the gathered tiles first: the keys of the gathered visited tiles, ascending, 64 slots per
     * tile; a segment = the keys of one visited tile within one gathered tile (its key bits, first slot) */
    int n_ent = 0, n_seg = 0, slot = T, seg_vi[T], seg_t0[T];
    uint64_t seg_bits[T];
    int32_t *gi = NULL;
    for (int vi = 0; vi <= nv; vi++) {
        if (vi < nv && !s->gathered[vi]) continue;
        uint64_t m = vi < nv ? s->colmask[vi] : 0;
        while (m || (vi == nv && gi)) {
            if (slot == T || vi == nv) {  /* the current tile is full (or the last): emit it */
                if (gi) {
                    for (int t = slot; t < T; t++) gi[t] = -1;
                    emit_gathered(s, o, hc, seg_vi, seg_t0, seg_bits, n_seg);
                    n_ent++;
                    gi = NULL;
                }
                if (vi == nv) break;
                gi = o->gather + o->n_gather++ * T;
                slot = 0;
                n_seg = 0;
            }
            uint64_t bits = low_set_bits(m, T - slot);  /* the keys of m that fit */
            seg_vi[n_seg] = vi;
            seg_t0[n_seg] = slot;
            seg_bits[n_seg++] = bits;
            m &= ~bits;
            const int32_t j0 = s->vt[vi] * T + __builtin_ctzll(bits);
            const uint64_t run = bits >> __builtin_ctzll(bits);
            if ((run & (run + 1)) == 0)  /* consecutive keys (a diagonal's, a window's): j0, j0 + 1, ... */
                for (int k = 0, nk = __builtin_popcountll(run); k < nk; k++) gi[slot++] = j0 + k;
            else
                for (; bits; bits &= bits - 1) gi[slot++] = s->vt[vi] * T + __builtin_ctzll(bits);
        }
    }
    for (int vi = 0; vi < nv; vi++) {  /* then the contiguous tiles, ascending */
        if (s->gathered[vi]) continue;
        push(o, s->vt[vi]);
        for (int i = 0; i < hc; i++) {
            const size_t th = (size_t)vi * hc + i;
            const uint64_t *kw = s->twp[th], *bw = s->tb + th * T;
            int32_t mode;
            if (s->tfull[th] == 0) mode = ATTN_PLAN_MODE_NONE;
            else if (s->tfull[th] == 1) mode = ATTN_PLAN_MODE_FULL;
            else if (s->tpat[th] >= 0) {  /* a one-diagonal pattern: interned once per block */
                if (s->pat_out != o) {
                    for (int k = 0; k < 2 * T - 1; k++) s->pat_mask[k] = -1;
                    s->pat_out = o;
                }
                int32_t *pm = &s->pat_mask[s->tpat[th]];
                if (*pm < 0) *pm = mask_set_intern(&o->masks, kw, mask_hash(kw));
                mode = *pm;
            } else mode = mask_set_intern(&o->masks, kw, mask_hash(kw));
            o->head_tiles += mode != ATTN_PLAN_MODE_NONE;
            push(o, mode);
            push(o, s->tbiased[th] ? mask_set_intern(&o->masks, bw, mask_hash(bw)) : -1);
            int32_t bits;
            memcpy(&bits, &s->tbias[th], sizeof bits);
            push(o, bits);
        }
        n_ent++;
    }
    return n_ent;
}

/* Fills h's words, n_masks and head_tiles from the blocks' outputs, in block (= item) order: the
 * masks re-deduplicated in one set in first-use order (hashes reused; the set points into the
 * blocks' words, and the distinct ones are copied once, in parallel) and the mask indices of the
 * blocks' entries (in h->entries) renumbered in place, so the arrays equal a one-block build's;
 * frees the blocks' mask sets. */
static void merge_masks(attn_plan_host *h, block_out *outs, int n_blocks) {
    for (int b = 0; b < n_blocks; b++) h->head_tiles += outs[b].head_tiles;
    if (n_blocks == 1) {  /* one block: its masks are already distinct and in first-use order */
        block_out *o = &outs[0];
        h->n_masks = o->masks.n;
        h->words = o->masks.words;
        h->cap_bytes[BUF_WORDS] = sizeof(uint64_t) * T * (size_t)o->masks.cap;
        o->masks.words = NULL;
        mask_set_free(&o->masks);
        return;
    }
    /* the global set holds pointers to the blocks' words (no copy while deduplicating); the
     * distinct masks are then copied once, in parallel, into h->words */
    int64_t upper = 0;  /* at most this many distinct masks */
    for (int b = 0; b < n_blocks; b++) upper += outs[b].masks.n;
    if (upper == 0) {  /* no masks (blocks-only plans): nothing to merge or renumber */
        for (int b = 0; b < n_blocks; b++) mask_set_free(&outs[b].masks);
        h->words = buf_take(BUF_WORDS, sizeof(uint64_t) * T, &h->cap_bytes[BUF_WORDS], "attention plan masks");
        return;
    }
    int32_t **remap = dam_malloc(sizeof(int32_t *) * (size_t)n_blocks, "attention plan merge");
    const uint64_t **src = dam_malloc(sizeof(uint64_t *) * (size_t)(upper + 1), "attention plan merge");
    uint64_t *hash = dam_malloc(sizeof(uint64_t) * (size_t)(upper + 1), "attention plan merge");
    size_t tcap = 256;
    while (tcap < 2 * (size_t)upper) tcap *= 2;
    int32_t *table = dam_malloc(sizeof(int32_t) * tcap, "attention plan merge");
    for (size_t k = 0; k < tcap; k++) table[k] = -1;
    int64_t n = 0;
    for (int b = 0; b < n_blocks; b++) {
        const block_out *o = &outs[b];
        remap[b] = dam_malloc(sizeof(int32_t) * (size_t)(o->masks.n + 1), "attention plan merge");
        for (int64_t m = 0; m < o->masks.n; m++) {
            const uint64_t *w = o->masks.words + m * T, hm = o->masks.hash[m];
            size_t k = hm & (tcap - 1);
            for (; table[k] >= 0; k = (k + 1) & (tcap - 1))
                if (hash[table[k]] == hm && memcmp(src[table[k]], w, sizeof(uint64_t) * T) == 0) break;
            if (table[k] < 0) {
                if (n >= INT32_MAX) dam_die(DAM_EXIT_RUNTIME, "attention plan: more than 2^31 masks");
                src[n] = w;
                hash[n] = hm;
                table[k] = (int32_t)n++;
            }
            remap[b][m] = table[k];
        }
    }
    h->n_masks = n;
    h->words = buf_take(BUF_WORDS, sizeof(uint64_t) * T * (size_t)(n ? n : 1), &h->cap_bytes[BUF_WORDS], "attention plan masks");
#pragma omp parallel for schedule(static) num_threads(h->threads)
    for (int64_t m = 0; m < n; m++) memcpy(h->words + m * T, src[m], sizeof(uint64_t) * T);
    dam_free(src);
    dam_free(hash);
    dam_free(table);
    const int ei = h->entry_ints, hc = h->hc;
#pragma omp parallel for schedule(dynamic, 1) num_threads(h->threads)
    for (int b = 0; b < n_blocks; b++) {
        block_out *o = &outs[b];
        for (size_t e = 0; e < o->n_ent; e += (size_t)ei)
            for (int i = 0; i < hc; i++) {
                int32_t *mode = &o->ent[e + 1 + 3 * i], *bmode = &o->ent[e + 2 + 3 * i];
                if (*mode >= 0) *mode = remap[b][*mode];
                if (*bmode >= 0) *bmode = remap[b][*bmode];
            }
        mask_set_free(&o->masks);
        dam_free(remap[b]);
    }
    dam_free(remap);
}

static attn_plan_host *host_build(const maskplan *const *plans, int n_q, int n_k, int n_heads, int n_kv_heads, int flags,
                                  int threads);

attn_plan_host *attn_cuda_plan_host_build(const maskplan *const *plans, int n_q, int n_k, int n_heads, int n_kv_heads,
                                          int flags, int threads) {
    int with_bits = 0;
    for (int i = 0; plans && i < n_heads; i++) with_bits += !plans[i]->dense && plans[i]->blk_bits != NULL;
    if (with_bits == 0) return host_build(plans, n_q, n_k, n_heads, n_kv_heads, flags, threads);
    /* the tile walk merges key-block lists: copies of the plans held as bits, as lists */
    const double t0 = now_ms();
    maskplan **lists = dam_calloc((size_t)n_heads, sizeof *lists, "attention plan lists");
    const maskplan **use = dam_malloc(sizeof *use * (size_t)n_heads, "attention plan lists");
    for (int i = 0; i < n_heads; i++) {
        use[i] = plans[i];
        if (plans[i]->dense || plans[i]->blk_bits == NULL) continue;
        lists[i] = maskplan_copy(plans[i]);
        maskplan_blocks_to_lists(lists[i]);
        use[i] = lists[i];
    }
    const double t1 = now_ms();
    attn_plan_host *h = host_build(use, n_q, n_k, n_heads, n_kv_heads, flags, threads);
    h->build_ms += t1 - t0;
    for (int i = 0; i < n_heads; i++) maskplan_free(lists[i]);
    dam_free(use);
    dam_free(lists);
    return h;
}

static attn_plan_host *host_build(const maskplan *const *plans, int n_q, int n_k, int n_heads, int n_kv_heads, int flags,
                                  int threads) {
    const double t0 = now_ms();
    if (n_q < 1 || n_q > n_k || n_kv_heads < 1 || n_heads < 1 || n_heads % n_kv_heads != 0)
        dam_die(DAM_EXIT_RUNTIME, "attn_cuda_plan_build: bad shape n_q=%d n_k=%d heads=%d/%d", n_q, n_k, n_heads,
                n_kv_heads);
    attn_plan_host *h = dam_calloc(1, sizeof *h, "attention plan");
    const int group = n_heads / n_kv_heads;
    int hc = 1;  /* per-head lists unless the GQA group is packed */
    for (int c = 4; c >= 1 && (flags & ATTN_CUDA_PACK_GQA); c--)
        if (group % c == 0) {
            hc = c;
            break;
        }
    const int q_base = n_k - n_q;
    h->n_q = n_q;
    h->n_k = n_k;
    h->n_heads = n_heads;
    h->n_kv_heads = n_kv_heads;
    h->hc = hc;
    h->n_chunks = n_heads / hc;
    h->qb0 = q_base / T;
    h->n_qt = (n_k - 1) / T - h->qb0 + 1;
    h->entry_ints = 1 + 3 * hc;
    h->threads = threads > 0 ? threads : omp_get_max_threads();
    for (int qt = 0; qt < h->n_qt; qt++) h->causal_tiles += (int64_t)n_heads * (h->qb0 + qt + 1);
    bool all_dense = true;
    for (int i = 0; plans && i < n_heads; i++) all_dense &= plans[i]->dense;
    if (all_dense && !(flags & ATTN_CUDA_FORCE_LISTS)) {
        h->dense = 1;
        h->head_tiles = h->causal_tiles;
        h->build_ms = now_ms() - t0;
        return h;
    }

    /* build: blocks of consecutive work items, each with its own output */
    const int n_kb = (n_k + T - 1) / T;
    const int64_t n_items = (int64_t)h->n_chunks * h->n_qt;
    int64_t nb = h->threads == 1 ? 1 : (int64_t)h->threads * BLOCKS_PER_THREAD;
    if (nb > n_items) nb = n_items;
    const int n_blocks = (int)nb;
    /* block b = items bstart[b] .. bstart[b + 1] - 1, cut so that each has about the same work: an
     * item's work grows with its causal key tiles (qb + 1, triangular over a chunk's query tiles),
     * plus a fixed cost; equal item counts would leave the last blocks of each chunk the longest */
    int64_t *bstart = dam_malloc(sizeof(int64_t) * (size_t)(n_blocks + 1), "attention plan blocks");
    {
        enum { ITEM_COST = 8 };  /* fixed cost of an item, in key tiles */
        int64_t total = 0, cum = 0;
        for (int qt = 0; qt < h->n_qt; qt++) total += h->qb0 + qt + 1 + ITEM_COST;
        total *= h->n_chunks;
        int b = 0;
        for (int64_t it = 0; it < n_items; it++) {
            while (b <= n_blocks && cum * n_blocks >= total * b) bstart[b++] = it;
            cum += h->qb0 + it % h->n_qt + 1 + ITEM_COST;
        }
        while (b <= n_blocks) bstart[b++] = n_items;
    }
    block_out *outs = dam_calloc((size_t)n_blocks, sizeof *outs, "attention plan blocks");
    if (n_blocks == 1) {  /* one block: its mask set becomes h->words, so it starts in the kept words array */
        size_t cap = 0;
        outs[0].masks.words = buf_take(BUF_WORDS, 0, &cap, "attention plan masks");
        outs[0].masks.cap = (int64_t)(cap / (sizeof(uint64_t) * T));
        outs[0].masks.hash = dam_malloc(sizeof(uint64_t) * (size_t)(outs[0].masks.cap ? outs[0].masks.cap : 1),
                                        "attention plan masks");
    }
    int32_t *count = dam_malloc(sizeof(int32_t) * (size_t)n_items, "attention plan counts");  /* entries per item */
    int64_t *g_ptr = dam_malloc(sizeof(int64_t) * (size_t)(n_items + 1), "attention plan counts");  /* gathered tiles */
    diag_runs *runs = plans ? dam_calloc((size_t)n_heads, sizeof *runs, "attention plan diagonal runs") : NULL;
    for (int i = 0; plans && i < n_heads; i++) runs[i] = diag_runs_of(plans[i]);
    part_words *pw = plans ? dam_calloc((size_t)n_heads, sizeof *pw, "attention plan part words") : NULL;
    for (int i = 0; pw && i < n_heads; i++)
        if (!plans[i]->dense && !(flags & ATTN_PLAN_NO_SHORTCUT)) pw[i] = part_words_of(plans[i], n_kb);
    uint64_t *pat = dam_calloc((size_t)(2 * T - 1) * T, sizeof(uint64_t), "attention plan patterns");
    for (int o = -(T - 1); o <= T - 1; o++)
        for (int r = 0; r < T; r++)
            if (r - o >= 0 && r - o < T) pat[(size_t)(o + T - 1) * T + r] = 1ull << (r - o);
    const plan_ctx cx = {plans, runs, pw, hc, h->n_qt, h->qb0, q_base, n_k, flags, pat};
    h->tile_ptr = dam_malloc(sizeof(int32_t) * (size_t)(n_items + 1), "attention plan tile_ptr");
    const int ei = h->entry_ints;
#pragma omp parallel num_threads(h->threads)
    {
        scratch s = {0};
        s.visit = dam_calloc(((size_t)n_kb + 31) / 32 * 32, 1, "attention plan scratch");
        s.vt = dam_malloc(sizeof(int32_t) * (size_t)n_kb, "attention plan scratch");
        /* 1. count each item's entries and gathered tiles */
#pragma omp for schedule(dynamic, 1)
        for (int b = 0; b < n_blocks; b++) {
            const int64_t i0 = bstart[b], i1 = bstart[b + 1];
            for (int64_t it = i0; it < i1; it++) {
                int ng = 0;
                count[it] = build_item(&cx, &s, NULL, (int)(it / h->n_qt), (int)(it % h->n_qt), &ng);
                g_ptr[it + 1] = ng;
            }
        }
        /* 2. offsets (prefix sums) and the arrays, allocated once at their final size */
#pragma omp single
        {
            h->tile_ptr[0] = 0;
            g_ptr[0] = 0;
            int64_t n_entries = 0;
            for (int64_t it = 0; it < n_items; it++) {
                n_entries += count[it];
                g_ptr[it + 1] += g_ptr[it];
                if (n_entries >= INT32_MAX || g_ptr[it + 1] >= INT32_MAX)
                    dam_die(DAM_EXIT_RUNTIME, "attention plan: more than 2^31 tiles");
                h->tile_ptr[it + 1] = (int32_t)n_entries;
            }
            h->n_entries = n_entries;
            h->n_gathered = g_ptr[n_items];
            h->entries = buf_take(BUF_ENTRIES, sizeof(int32_t) * (size_t)(n_entries ? n_entries * ei : 1),
                                  &h->cap_bytes[BUF_ENTRIES], "attention plan entries");
            h->gather = buf_take(BUF_GATHER, sizeof(int32_t) * T * (size_t)(h->n_gathered ? h->n_gathered : 1),
                                 &h->cap_bytes[BUF_GATHER], "attention plan gather");
        }
        /* 3. build each block's entries and gathered tiles in place */
#pragma omp for schedule(dynamic, 1)
        for (int b = 0; b < n_blocks; b++) {
            const int64_t i0 = bstart[b], i1 = bstart[b + 1];
            block_out *o = &outs[b];
            o->ent = h->entries + (size_t)h->tile_ptr[i0] * ei;
            o->gather = h->gather + (size_t)g_ptr[i0] * T;
            o->g_base = g_ptr[i0];
            for (int64_t it = i0; it < i1; it++) {
                const size_t e0 = o->n_ent;
                const int64_t g0 = o->n_gather;
                const int n = build_item(&cx, &s, o, (int)(it / h->n_qt), (int)(it % h->n_qt), NULL);
                if (n != count[it] || o->n_ent - e0 != (size_t)n * ei || o->n_gather - g0 != g_ptr[it + 1] - g_ptr[it])
                    dam_die(DAM_EXIT_RUNTIME, "attention plan: item %lld counted %d entries, built %d", (long long)it,
                            count[it], n);
            }
        }
        scratch_free(&s);
    }

    /* masks: one global set (first-use order, as a serial build) */
    merge_masks(h, outs, n_blocks);

    /* CTA order: items by descending list length, stable (counting sort), each as a descriptor
     * {item, first entry, end entry, first kt} */
    int32_t max_len = 0;
    for (int64_t it = 0; it < n_items; it++) max_len = count[it] > max_len ? count[it] : max_len;
    int64_t *start = dam_calloc((size_t)max_len + 2, sizeof(int64_t), "attention plan order");
    for (int64_t it = 0; it < n_items; it++) start[max_len - count[it] + 1]++;  /* bucket max_len - len */
    for (int32_t k = 0; k <= max_len; k++) start[k + 1] += start[k];
    h->order = dam_malloc(sizeof(int32_t) * 4 * (size_t)n_items, "attention plan order");
    for (int64_t it = 0; it < n_items; it++) {
        const int64_t i = start[max_len - count[it]]++;
        const int32_t e0 = h->tile_ptr[it], e1 = h->tile_ptr[it + 1];
        h->order[4 * i] = (int32_t)it;
        h->order[4 * i + 1] = e0;
        h->order[4 * i + 2] = e1;
        h->order[4 * i + 3] = e1 > e0 ? h->entries[(size_t)e0 * ei] : 0;
    }
    dam_free(start);
    for (int i = 0; runs && i < n_heads; i++) {
        dam_free(runs[i].lo);
        dam_free(runs[i].hi);
    }
    dam_free(runs);
    for (int i = 0; pw && i < n_heads; i++) part_words_free(&pw[i]);
    dam_free(pw);
    dam_free(pat);
    dam_free(outs);
    dam_free(bstart);
    dam_free(count);
    dam_free(g_ptr);
    h->build_ms = now_ms() - t0;
    return h;
}

void attn_cuda_plan_host_free(attn_plan_host *h) {
    if (!h) return;
    dam_free(h->tile_ptr);
    buf_give(BUF_ENTRIES, h->entries, h->cap_bytes[BUF_ENTRIES]);
    buf_give(BUF_WORDS, h->words, h->cap_bytes[BUF_WORDS]);
    buf_give(BUF_GATHER, h->gather, h->cap_bytes[BUF_GATHER]);
    dam_free(h->order);
    dam_free(h);
}

bool attn_plan_blocks_only(const maskplan *const *plans, int n_heads, int n_k) {
    if (plans == NULL || n_k < 1 || (size_t)(n_k + 63) / 64 * sizeof(int) > ATTN_CUDA_WGMMA_MAX_LIST_BYTES ||
        sizeof(uint64_t) * attn_plan_block_bits_words(n_k) * (size_t)n_heads > ((size_t)64 << 20))
        return false;
    bool any_sparse = false;
    for (int h = 0; h < n_heads; h++) {
        const maskplan *m = plans[h];
        if (m->dense) continue;
        if (m->n_cols > 0 || m->n_diags > 0 || m->bitmap_L > 0 || m->blk_bias != NULL) return false;
        any_sparse = true;
    }
    return any_sparse;
}

size_t attn_plan_block_bits_words(int n_k) {
    const size_t rows = ((size_t)n_k + 63) / 64;
    return rows * ((rows + 63) / 64);
}

void attn_plan_block_bits(const maskplan *const *plans, int n_heads, int n_k, int qb0, uint64_t *bits, int threads,
                          int64_t *head_tiles, int64_t *causal_tiles, int64_t *wgmma_tiles) {
    const size_t per_head = attn_plan_block_bits_words(n_k);
    /* default threads only for large matrices: waking OpenMP's sleeping workers (passive wait policy,
     * idle cores after the GPU wait) cost more than a layer's bits at 32K take on one (run 55) */
    const int rows = (n_k + 63) / 64, words = (rows + 63) / 64,
              nt = threads > 0 ? threads : per_head * (size_t)n_heads >= ATTN_PLAN_PARALLEL_WORDS ? omp_get_max_threads() : 1;
    int64_t kept = 0, causal = 0, tiles = 0;
#pragma omp parallel for schedule(static) reduction(+ : kept, causal) num_threads(nt)
    for (int64_t r = 0; r < (int64_t)n_heads * rows; r++) {
        const int h = (int)(r / rows), qb = (int)(r % rows);
        const maskplan *m = plans[h];
        uint64_t *row = bits + per_head * h + (size_t)qb * words;
        const bool all = qb >= qb0 && m->dense;
        for (int w = 0; w < words; w++) row[w] = all ? ~0ull : 0;
        if (qb < qb0) continue;
        causal += qb + 1;
        /* listed blocks are causal (kb <= qb < rows) and unique (maskplan.h) */
        kept += m->dense ? qb + 1 : maskplan_block_row(m, qb, row, words);
    }
    /* the wgmma kernel's 128 x 128 tiles of every head (a dense head's rows are all ones): per group of
     * 2 query blocks, the 128-key tiles (key block pairs) up to the group's last row in which one of its
     * rows keeps a block */
    const int groups = (rows + 1) / 2;
#pragma omp parallel for schedule(static) reduction(+ : tiles) num_threads(nt)
    for (int64_t r = 0; r < (int64_t)n_heads * groups; r++) {
        const int h = (int)(r / groups), g = (int)(r % groups), q0 = 2 * g > qb0 ? 2 * g : qb0;
        const int q1 = 2 * g + 1 < rows - 1 ? 2 * g + 1 : rows - 1;
        const int64_t last = (64 * (int64_t)(q1 + 1) < n_k ? 64 * (int64_t)(q1 + 1) : n_k) - 1;
        const int key_blocks = 2 * (int)(last / 128 + 1); /* blocks of the tiles up to the last row's */
        for (int w = 0; w < words && q0 <= q1 && 64 * w < key_blocks; w++) {
            uint64_t x = 0;
            for (int q = q0; q <= q1; q++) x |= bits[per_head * h + (size_t)q * words + w];
            if (key_blocks - 64 * w < 64) x &= (1ull << (key_blocks - 64 * w)) - 1;
            tiles += __builtin_popcountll((x | x >> 1) & 0x5555555555555555ull);
        }
    }
    *head_tiles = kept;
    *causal_tiles = causal;
    *wgmma_tiles = tiles;
}
