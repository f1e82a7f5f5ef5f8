/* patterns.h — DAM's pattern set: what Stage 1 produces and Stage 2 consumes (docs/dam-spec.md
 * §1.7-1.9), in memory and in its HDF5 file (the "pattern file").
 *
 * Per (layer l, query head h) the set holds the L x L true mask m (§1.6), bit-packed in the
 * MaskPlan bitmap layout (kernels/maskplan.h: L rows of ceil(L / 64) uint64 words, bit j % 64 of
 * word j / 64 of row i is the pair (i, j); only causal bits j <= i are ever set), the matched
 * diagonal offsets R and the matched columns C (§1.8). Beside them: the Stage 1 parameters and the
 * provenance (model identity, calibration corpus, prefix policy, number of sequences) that §1.1 and
 * §1.9 ask the file to record.
 *
 * File layout (docs/dam.md has the full table and an h5py snippet):
 *   /                      attributes: format = "dam-patterns", format_version = 1, pcl, lambda,
 *                          epsilon, tau, mu, min_pattern_cells, n_layers, n_heads, model_name,
 *                          model_sha256, corpus, corpus_sha256, corpus_tokens, prefix, n_sequences,
 *                          mask_bit_order
 *   /layer_LL/head_H       (LL two digits, H plain decimal) attributes density, n_diagonals, n_columns
 *     true_mask            uint8 [L][ceil(L / 8)]: bit (j % 8) of byte j / 8 of row i (least
 *                          significant bit first, numpy bitorder='little') is m_{i,j}
 *     diagonals            int32 [|R|], sorted ascending, in [0, L)
 *     columns              int32 [|C|], sorted ascending, in [0, L)
 *   /mean_attention        float32 [n_layers * n_heads][L (L + 1) / 2], optional: Ā of every map,
 *                          causal cells row by row ((i, j) at i (i + 1) / 2 + j), map (l, h) at l n_heads + h
 * Files are byte-identical for identical inputs (no timestamps, no host names, pinned format
 * versions). All HDF5 calls of the method live in patterns.c. */
#ifndef DAM_DAM_PATTERNS_H
#define DAM_DAM_PATTERNS_H

#include <stdbool.h>
#include <stdint.h>

/* Stage 1 parameters (docs/dam-spec.md §1.2-1.8; defaults are the paper's). */
typedef struct {
    int L;                 /* pattern capture length (PCL), tokens, >= 1; §1.2, default 512 */
    double lambda;         /* Box-Cox exponent λ (0 = the ln branch); §1.4, default 0.5 */
    double eps;            /* ε: floor of Ā before Box-Cox and the ε of Ā = A / (C + ε); §1.3-1.4, 1e-10 */
    double tau;            /* τ: true-mask threshold on the shifted map Ã, >= 0; §1.6, default 0.3 */
    double mu;             /* μ: a pattern matches iff its score γ >= μ, in [0, 1]; §1.8, default 0.8 */
    int min_pattern_cells; /* drop matched patterns with fewer cells than this; 0 = paper (no guard);
                              docs/dam-spec.md §1 "Known quirk" Decision */
} dam_params;

/* Fills the paper's defaults: L = 512, λ = 0.5, ε = 1e-10, τ = 0.3, μ = 0.8, min_pattern_cells = 0. */
void dam_params_default(dam_params *p);

/* Checks ranges: 1 <= L <= 65536, λ finite in [-5, 5], 0 < ε < 1, τ finite >= 0, 0 <= μ <= 1,
 * 0 <= min_pattern_cells <= L. Returns NULL if valid, else a static message naming the first bad
 * field by its attribute name ("tau must be ..."). */
const char *dam_params_check(const dam_params *p);

/* One (layer, query head): the true mask and the matched patterns. */
typedef struct {
    int L;           /* this head's PCL: par.L, or less when derived with a per-head pcl (dam/derive.h) */
    uint64_t *mask;  /* [L][maskplan_bitmap_words(L)] true mask m (§1.6), L = this head's L (the buffer
                        holds par.L rows); only bits j <= i set */
    int32_t n_diags; /* |R| */
    int32_t *diags;  /* [n_diags] matched diagonal offsets r (§1.7-1.8), sorted ascending, in [0, L) */
    int32_t n_cols;  /* |C| */
    int32_t *cols;   /* [n_cols] matched columns c, sorted ascending, in [0, L) */
    double density;  /* set bits of mask / (L (L + 1) / 2): the true mask's causal density */
} dam_head;

/* A pattern set. Owns everything (dam_malloc); release with dam_patterns_free. */
typedef struct {
    dam_params par;
    int n_layers;
    int n_heads;             /* query heads (masks are per query head, docs/dam-spec.md §0) */
    dam_head *heads;         /* [n_layers][n_heads]: (l, h) at l * n_heads + h; see dam_patterns_head */
    /* provenance (§1.1, §1.9); strings are dam_malloc'd and never NULL */
    char *model_name;        /* general.name of the model */
    char model_sha256[65];   /* sha256 of the model file, 64 lowercase hex digits */
    char *corpus;            /* calibration corpus as named by the user (default "data/jargon.txt.gz",
                                relative to the project root) */
    char corpus_sha256[65];  /* sha256 of the corpus file as stored on disk (compressed bytes for .gz) */
    int64_t corpus_tokens;   /* tokens in the whole tokenised corpus */
    char *prefix;            /* prefix policy of each calibration sequence: "none" or "chat" */
    int n_sequences;         /* calibration sequences of exactly L tokens */
    float *abar;             /* [n_layers][n_heads][L (L + 1) / 2] the averaged attention Ā (§1.3) the
                                masks come from, causal cell (i, j) of a map at i (i + 1) / 2 + j; NULL if
                                absent. Kept so other thresholds (λ, τ, μ, min_pattern_cells, also per
                                layer / head) can be re-derived (dam/derive.h) without the model. */
} dam_patterns;

/* A new set for n_layers x n_heads heads with parameters *par (copied; must pass
 * dam_params_check): every mask allocated and all-zero, R and C empty, density 0, provenance
 * strings empty ("", prefix "none"), counts 0. Exits with status 2 on invalid sizes or parameters. */
dam_patterns *dam_patterns_new(int n_layers, int n_heads, const dam_params *par);

void dam_patterns_free(dam_patterns *p);

/* A deep copy of p (masks, R, C, provenance, and Ā when `with_abar` and p has it; else abar NULL).
 * Caller frees with dam_patterns_free. */
dam_patterns *dam_patterns_copy(const dam_patterns *p, bool with_abar);

/* The head (layer, q_head); exits with status 2 if either index is out of range. */
dam_head *dam_patterns_head(const dam_patterns *p, int layer, int q_head);

/* Replaces a head's R (or C) by a copy of vals[0..n) (must be sorted, unique, in [0, L)). */
void dam_head_set_diags(dam_head *h, const int32_t *vals, int n);
void dam_head_set_cols(dam_head *h, const int32_t *vals, int n);

/* Replaces a provenance string (copied). */
void dam_patterns_set_str(char **field, const char *value);

/* True if a and b hold the same parameters, provenance, masks, R and C (density compared exactly) and
 * the same mean attention Ā (both absent, or equal bit for bit). */
bool dam_patterns_equal(const dam_patterns *a, const dam_patterns *b);

/* Writes the set to `path` atomically: into "<path>.tmp.<pid>" in the same folder, flushed to disk
 * (fsync), then renamed over `path`; an interrupted run leaves `path` as it was (at worst a stale
 * .tmp file). The output is byte-identical for identical sets. A path whose temporary file cannot
 * be created is an input error (exit 2, naming the path); a failure while writing is a runtime
 * failure (exit 3, naming the path and the item; the temporary file is removed). */
void dam_patterns_write(const dam_patterns *p, const char *path);

/* What the reader checks the file against; 0 / NULL fields are not checked. */
typedef struct {
    const char *model_sha256; /* sha256 of the model in use */
    int L;                    /* required PCL */
    int n_layers;             /* model layers */
    int n_heads;              /* model query heads */
} dam_expect;

/* Reads and validates a pattern file: every root attribute present with the right type and a
 * valid value, every /layer_LL/head_H group with its three datasets (shapes [L][ceil(L/8)], [|R|],
 * [|C|]) and attributes, masks causal, R and C sorted, unique and in [0, L), the attributes
 * consistent with the data, and the expectations in *e (may be NULL). Any problem is an input
 * error: one line naming the file and the item ("p.h5: /layer_03/head_1/columns: missing"),
 * exit status 2. Returns a new set (caller frees). */
dam_patterns *dam_patterns_read(const char *path, const dam_expect *e);
/* Whether path is an HDF5 file whose root attribute format names a DAM pattern file (only that is
 * checked, not the contents: for refusing to replace another kind of file). false for a missing,
 * unreadable or non-HDF5 file; a format attribute of another type is an input error (exit 2). */
bool dam_patterns_is_pattern_file(const char *path);

#endif
