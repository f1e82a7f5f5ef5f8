/* maskplan.h — MaskPlan, the one seam between attention methods and kernels (DESIGN §3).
 *
 * A plan says, for one (layer, query head), which causal (query position p, key position j),
 * j <= p, pairs attention may use. Positions are absolute token positions of the sequence, so a
 * plan does not depend on how prefill is chunked: a step with n_q queries and n_k keys covers rows
 * p = n_k - n_q .. n_k - 1 (causality aligned to the last key). A plan is a union of parts:
 *   dense      every causal pair (full attention); the other parts are then ignored;
 *   cols       sorted unique key positions c: every row p >= c may attend c (sinks, verticals);
 *   diags      sorted unique offsets r >= 0: row p may attend p - r (window = 0..w-1, slashes);
 *   blocks     per query block qb (rows qb*64 .. qb*64+63), sorted key-block indices kb (keys
 *              kb*64 .. kb*64+63) the block attends, CSR layout (BigBird, XAttention, ...);
 *   bitmap     an explicit bit mask over the top-left L x L corner (DAM's true mask); inside
 *              that region (p < L and j < L) the bitmap alone decides; outside it, the other parts.
 * Rule: kept(p, j) = j <= p and (dense or (p < L and j < L ? bit(p, j)
 *                                   : (p - j) in diags or j in cols or j/64 in blocks[p/64])).
 * Masked pairs get -inf logits (probability exactly 0), never a finite sentinel. A valid plan
 * leaves no row empty (checked by maskplan_validate). Size is O(|cols| + |diags| + blocks + L²/8),
 * so plans for a million tokens stay small. Plans are per query head; GQA kernels visit the union
 * of the tiles of a KV group's heads and mask per head inside a tile. */
#ifndef DAM_KERNELS_MASKPLAN_H
#define DAM_KERNELS_MASKPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { MASKPLAN_BLOCK = 64 }; /* rows / keys per block of the `blocks` part */

typedef struct {
    bool dense;
    int32_t n_cols;
    int32_t *cols;      /* [n_cols] sorted, unique, >= 0 */
    int32_t n_diags;
    int32_t *diags;     /* [n_diags] sorted, unique, >= 0 */
    int32_t n_qblocks;  /* query blocks described; later query blocks have no block part */
    int32_t *blk_ptr;   /* [n_qblocks + 1] offsets into blk_idx, blk_ptr[0] = 0; NULL when n_qblocks = 0 */
    int32_t *blk_idx;   /* [blk_ptr[n_qblocks]] key-block indices, sorted and unique per query block, kb <= qb */
    int32_t bitmap_L;   /* side of the bitmap region, 0 = no bitmap */
    uint64_t *bitmap;   /* [bitmap_L][maskplan_bitmap_words(bitmap_L)]: bit (j % 64) of word j / 64 of row p */
} maskplan;

/* 64-bit words per bitmap row: ceil(L / 64). */
static inline int maskplan_bitmap_words(int L) { return (L + 63) / 64; }

/* A new plan with no parts (keeps nothing until parts are set). Free with maskplan_free. Plans and
 * their arrays are allocated through core/mem (dam_malloc), so they count in dam_mem_in_use(). */
maskplan *maskplan_new(void);

/* The plan "all causal" (full attention). */
maskplan *maskplan_dense(void);

/* A deep copy (owned by the caller; free with maskplan_free). */
maskplan *maskplan_copy(const maskplan *p);

/* Frees the plan and its arrays; NULL is a no-op. */
void maskplan_free(maskplan *p);

/* Set a part from the caller's arrays (copied; sorted and de-duplicated here; negative values
 * are an internal error: dam_die with DAM_EXIT_RUNTIME). Setting a part replaces its previous
 * value; n = 0 (array may be NULL) clears it. */
void maskplan_set_cols(maskplan *p, const int32_t *cols, int n);
void maskplan_set_diags(maskplan *p, const int32_t *diags, int n);
/* blocks: n_qblocks query blocks; query block qb lists idx[ptr[qb] .. ptr[qb+1]) (ptr non-decreasing,
 * >= 0; each list sorted and de-duplicated here; key blocks beyond the query block are causally
 * empty and dropped). n_qblocks = 0 clears the part. */
void maskplan_set_blocks(maskplan *p, int n_qblocks, const int32_t *ptr, const int32_t *idx);
/* bitmap: L rows of maskplan_bitmap_words(L) words, copied; bits above the diagonal are cleared
 * (so are bits for keys >= L). L = 0 clears the part. */
void maskplan_set_bitmap(maskplan *p, int L, const uint64_t *bits);

/* Whether the pair (p, j) is kept (false for j > p or j < 0). */
bool maskplan_kept(const maskplan *p, int64_t pos, int64_t j);

/* The kept bits of row `pos` for keys j0 .. j0+63 (bit t = key j0 + t), causality applied.
 * j0 must be a non-negative multiple of 64 (else an internal error, dam_die). Costs
 * O(log |part| + hits), not O(|part|). */
uint64_t maskplan_row_word(const maskplan *p, int64_t pos, int64_t j0);

/* Number of keys row `pos` keeps (exact; 0 for pos < 0). O(|cols| + |diags| + |blocks of the row|),
 * or O(L / 64) inside the bitmap region. */
int64_t maskplan_row_count(const maskplan *p, int64_t pos);

/* Exact density over a sequence of n tokens: kept causal pairs / (n (n + 1) / 2), computed from the
 * parts, never materialising the n x n mask: bitmap rows by popcount, rows of query blocks with a
 * block part row by row, runs of rows without one in closed form (so at most O(n · plan size), and
 * O(L²/64 + |cols| log |diags|) for a plan without blocks). 0 for n <= 0. */
double maskplan_density(const maskplan *p, int64_t n);

/* Exact kept causal pairs over rows 0 .. n-1 (0 for n <= 0). */
int64_t maskplan_kept_pairs(const maskplan *p, int64_t n);

/* Marks in `visit` (one byte per key block of 64 keys, n_kblocks entries, caller zeroes) every key
 * block that some row in p0 .. p1 (inclusive) may attend under this plan: exactly those (a block
 * is marked iff some row of the range keeps some key in it), sets entries to 1 and never clears
 * one, so calls for several plans give the union. Blocks >= n_kblocks are not written. Costs
 * O((p1 - p0 + 1) · L / 64) for rows in the bitmap region, else O(|cols| + |diags| · span / 64 +
 * blocks listed by the range's query blocks). */
void maskplan_mark_key_blocks(const maskplan *p, int64_t p0, int64_t p1, uint8_t *visit, int64_t n_kblocks);

/* Checks the invariants for sequences of n tokens: counts >= 0 with arrays present; cols and diags
 * sorted, unique, >= 0; blk_ptr[0] = 0 and non-decreasing; each key-block list sorted, unique, in
 * 0 .. qb; no bitmap bit above the diagonal; and (unless dense) no row 0 .. n-1 empty. Values past
 * n (a column >= n) are allowed: they never apply. Cost O(plan size + L²/64 + n/64).
 * Returns NULL if valid, else a message naming the first violation (with the row or index), held
 * in a thread-local buffer that stays valid until the next call in the same thread. */
const char *maskplan_validate(const maskplan *p, int64_t n);

/* Bytes the plan holds (its arrays and the struct; the allocator's headers excluded). */
size_t maskplan_bytes(const maskplan *p);

#endif
