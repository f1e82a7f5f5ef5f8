/* maskplan.h — MaskPlan, the one seam between attention methods and kernels (DESIGN §3).
 *
 * A plan says, for one (layer, query head), which causal (query position p, key position j),
 * j <= p, pairs attention may use. Positions are absolute token positions of the sequence, so a
 * plan does not depend on how prefill is chunked: a step with n_q queries and n_k keys covers rows
 * p = n_k - n_q .. n_k - 1 (causality aligned to the last key). A plan is a union of parts:
 *   dense      every causal pair (full attention); the other parts are then ignored;
 *   cols       sorted unique key positions c: every row p >= c may attend c (sinks, verticals);
 *   diags      sorted unique offsets r >= 0: row p may attend p - r (window = 0..w-1, slashes);
 *   blocks     per query block qb (rows qb*64 .. qb*64+63), the key blocks kb (keys kb*64 .. kb*64+63)
 *              the block attends: sorted index lists in CSR layout (BigBird, ...) or, for dense
 *              block plans (XAttention, FlexPrefill), a bit matrix (blk_bits);
 *   bitmap     an explicit bit mask over the top-left L x L corner (DAM's true mask); inside
 *              that region (p < L and j < L) the bitmap alone decides; outside it, the other parts.
 * Rule: kept(p, j) = j <= p and (dense or (p < L and j < L ? bit(p, j)
 *                                   : (p - j) in diags or j in cols or j/64 in blocks[p/64])).
 * Masked pairs get -inf logits (probability exactly 0), never a finite sentinel.
 * Soft masks (optional, off by default): the `blocks` part may carry a logit bias per listed block
 * pair, b(qb, kb) <= 0 in natural-log units (a weight w = e^b in (0, 1]), stored parallel to blk_idx.
 * It changes how much a kept pair weighs, never which pairs are kept:
 *   bias(p, j) = -inf                if (p, j) is not kept;
 *              = b(p/64, j/64)       if (p, j) is kept by the blocks part ONLY (p >= L, (p/64, j/64)
 *                                    listed, and neither a column nor a diagonal keeps it);
 *              = 0                   otherwise (dense plans, the bitmap region, pairs a column or
 *                                    diagonal keeps, plans without a bias).
 * i.e. a pair's weight is the largest weight of the parts that keep it (cols, diags and bitmap
 * weigh 1). Kernels compute softmax(q·k·scale + bias) over the kept pairs. With no bias
 * (blk_bias == NULL, the default) every plan means exactly what it meant before.
 * A valid plan
 * leaves no row empty (checked by maskplan_validate). Size is O(|cols| + |diags| + min(blocks,
 * query blocks x key blocks / 16) + L²/8)
 * (a bias adds 4 bytes per listed block),
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
    int32_t *blk_ptr;   /* [n_qblocks + 1] offsets into blk_idx, blk_ptr[0] = 0; NULL when n_qblocks = 0 or when the
                         * blocks are held as bits (blk_bits) */
    int32_t *blk_idx;   /* [blk_ptr[n_qblocks]] key-block indices, sorted and unique per query block, kb <= qb */
    float *blk_bias;    /* NULL (no bias, the default) or [blk_ptr[n_qblocks]] parallel to blk_idx: the logit
                         * bias b(qb, kb), finite and <= 0, of pairs kept by the blocks part only (see above) */
    int32_t bitmap_L;   /* side of the bitmap region, 0 = no bitmap */
    uint64_t *bitmap;   /* [bitmap_L][maskplan_bitmap_words(bitmap_L)]: bit (j % 64) of word j / 64 of row p */
    uint64_t *blk_bits; /* NULL (blocks as lists), or the blocks part as a bit matrix [n_qblocks][blk_bits_words]
                         * instead of lists (blk_ptr = blk_idx = NULL): bit kb % 64 of word kb / 64 of row qb set iff
                         * qb keeps key block kb (kb <= qb). maskplan_set_blocks_bits(_heads) chooses it when it is no
                         * larger than the lists (dense block plans: XAttention's, FlexPrefill's: 8 bytes per 64 key
                         * blocks instead of 4 per kept block); every query here reads either form, the GPU plan
                         * builder copies its rows; maskplan_blocks_to_lists converts (a block bias needs lists) */
    int32_t blk_bits_words; /* words per row of blk_bits: ceil(n_kblocks / 64) of the call that set it; 0 without */
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
 * empty and dropped). n_qblocks = 0 clears the part. Setting the blocks clears any block bias. */
void maskplan_set_blocks(maskplan *p, int n_qblocks, const int32_t *ptr, const int32_t *idx);
/* The blocks from a bit matrix (the GPU estimators' output), the same result as maskplan_set_blocks
 * with the kept blocks listed: n_qblocks query blocks; key block kb of query block qb is kept iff bit
 * kb % 64 of bits[qb * ceil(n_kblocks / 64) + kb / 64] is set (bits: read only, not kept); bits of key
 * blocks kb > qb or kb >= n_kblocks are ignored. n_qblocks = 0 clears the part; setting the blocks
 * clears any block bias. Negative counts, or bits NULL with n_qblocks > 0 and n_kblocks > 0, are an
 * internal error (dam_die with DAM_EXIT_RUNTIME), as are more than INT32_MAX kept blocks. When the
 * bits take no more bytes than the lists, the plan holds the bits instead (blk_bits, causal part
 * only; no lists). One pass copies the causal bits and counts them; a plan that ends up as lists
 * is listed from that copy in a second pass (no sort or reallocation), and the copy freed (so a
 * call holds, for a while, up to the bits' size again in copies, also for plans that end as lists). */
void maskplan_set_blocks_bits(maskplan *p, int n_qblocks, int n_kblocks, const uint64_t *bits);
/* How maskplan_set_blocks_bits_heads holds the blocks: AUTO (what maskplan_set_blocks_bits does) bits
 * when the matrix takes no more bytes than the index array blk_idx would, else lists; BITS always bits
 * (lists when n_kblocks = 0: no words); LISTS always lists. The kept blocks are the same. */
typedef enum { MASKPLAN_BLOCKS_AUTO, MASKPLAN_BLOCKS_BITS, MASKPLAN_BLOCKS_LISTS } maskplan_blocks_form;
/* maskplan_set_blocks_bits for n_plans plans at once (one per head of a layer): plans[h] from the
 * matrix at bits + h · n_qblocks · ceil(n_kblocks / 64) (the GPU estimators' [heads][qb][words]
 * layout), held in `form`; plans[h] == NULL skips head h (its bits are not read). The same result as
 * one call per plan, but both passes run over all rows of all plans with OpenMP (rows interleaved, so
 * the longer rows of later query blocks spread evenly; matrices of >= 65,536 words, smaller ones
 * serially), where one call per plan in a loop over heads leaves threads idle when there are fewer
 * heads than cores (XAttention at 128K: 17M blocks in 9 plans). */
void maskplan_set_blocks_bits_heads(maskplan *const *plans, int n_plans, int n_qblocks, int n_kblocks,
                                    const uint64_t *bits, maskplan_blocks_form form);
/* ORs into row[0 .. words) the key blocks query block qb lists (bit kb % 64 of word kb / 64; blocks
 * kb >= 64 · words are left out) and returns how many it lists (0 for qb >= n_qblocks or < 0), from
 * either representation: a row copy of blk_bits, or the list. */
int64_t maskplan_block_row(const maskplan *p, int64_t qb, uint64_t *row, int words);
/* Converts a blocks part held as bits (blk_bits) into lists (blk_ptr / blk_idx), the same blocks;
 * no-op for lists. For code that walks the lists (a copy of a const plan: maskplan_copy first). */
void maskplan_blocks_to_lists(maskplan *p);
/* Sets the block bias: bias[i] is the logit bias b of the block pair (qb, blk_idx[i]) for
 * blk_ptr[qb] <= i < blk_ptr[qb+1], i.e. parallel to the plan's own (sorted, de-duplicated)
 * blk_idx, so call it after maskplan_set_blocks (or maskplan_blocks_to_lists) and read the pairs from
 * p->blk_ptr / p->blk_idx.
 * Copied (with bias != NULL a part held as bits becomes lists first). Every value must be finite and
 * <= 0 (else an internal error, dam_die); -0.0 is stored as 0. bias == NULL, or every value 0, or a
 * plan with no listed block, clears the bias (no array is kept). */
void maskplan_set_block_bias(maskplan *p, const float *bias);
/* The same from a dense matrix: bias[qb * n_kblocks + kb] for each listed pair (qb, kb) (entries
 * of unlisted pairs are ignored; kb < n_kblocks for every listed kb, else dam_die). */
void maskplan_set_block_bias_matrix(maskplan *p, const float *bias, int n_kblocks);

/* Whether the plan carries a logit bias (a non-NULL blk_bias and not dense). */
bool maskplan_has_bias(const maskplan *p);
/* bitmap: L rows of maskplan_bitmap_words(L) words, copied; bits above the diagonal are cleared
 * (so are bits for keys >= L). L = 0 clears the part. */
void maskplan_set_bitmap(maskplan *p, int L, const uint64_t *bits);

/* Whether the pair (p, j) is kept (false for j > p or j < 0). */
bool maskplan_kept(const maskplan *p, int64_t pos, int64_t j);

/* The kept bits of row `pos` for keys j0 .. j0+63 (bit t = key j0 + t), causality applied.
 * j0 must be a non-negative multiple of 64 (else an internal error, dam_die). Costs
 * O(log |part| + hits), not O(|part|). */
uint64_t maskplan_row_word(const maskplan *p, int64_t pos, int64_t j0);

/* maskplan_row_word plus the bias of those keys: returns the same kept word, and sets *biased to
 * the kept bits whose pair gets the bias *bias (the pairs kept by the blocks part only, see the top
 * of this file; *biased = 0 and *bias = 0 when there are none: no bias, dense, the bitmap region,
 * or a block pair whose bias is 0). Every other kept bit has bias 0. Same cost as
 * maskplan_row_word. */
uint64_t maskplan_row_word_bias(const maskplan *p, int64_t pos, int64_t j0, uint64_t *biased, float *bias);

/* The logit bias of the pair (pos, j): -INFINITY if it is not kept, else 0 or its block's bias
 * (see the top of this file). O(log |part|). */
float maskplan_bias(const maskplan *p, int64_t pos, int64_t j);

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
 * 0 .. qb, or block bits (instead of lists) with no bit past the diagonal; a block bias only with
 * listed blocks, every value finite and <= 0; no bitmap bit above
 * the diagonal; and (unless dense) no row 0 .. n-1 empty. Values past
 * n (a column >= n) are allowed: they never apply. Cost O(plan size + L²/64 + n/64).
 * Returns NULL if valid, else a message naming the first violation (with the row or index), held
 * in a thread-local buffer that stays valid until the next call in the same thread. */
const char *maskplan_validate(const maskplan *p, int64_t n);

/* Bytes the plan holds (its arrays, the block bias and block bits included, and the struct; the allocator's
 * headers excluded). */
size_t maskplan_bytes(const maskplan *p);

#endif
