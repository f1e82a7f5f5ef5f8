/* calibrate.h — DAM Stage 1 driver ("calibration", docs/dam-spec.md §1.1-1.3): cut a text corpus into
 * sequences of exactly L tokens, run the frozen model with full fp32 attention on each, capture the
 * post-softmax probabilities of every layer and query head through the llama_attn_fn hook,
 * average them, and hand Ā to Stage 1 (stage1.h).
 *
 * Sequences (§1.1). The corpus (plain or gzip text, read through zlib) is tokenised once, as raw
 * text (no BOS/EOS, special-token texts not recognised). Each sequence is P followed by L − |P|
 * corpus tokens, where P is the prefix every evaluation prompt starts with:
 *   "none"  the model's BOS policy: [BOS] if the tokenizer adds one to every prompt, else nothing
 *           (SmolLM2 adds none);
 *   "chat"  the model's ChatML user-turn prefix (model/chat.h) — the rendered template up to the
 *           user content, e.g. "<|im_start|>system\n...<|im_end|>\n<|im_start|>user\n" — tokenised
 *           as an evaluation prompt is (BOS policy, special tokens recognised).
 * The n_seq bodies start at evenly spaced corpus token offsets o_s = floor(s (N − B) / (n_seq − 1)),
 * s = 0 .. n_seq−1 (N corpus tokens, B = L − |P| body tokens; o_0 = 0 for n_seq = 1), so they span
 * the whole corpus; the offsets must be distinct (N − B + 1 >= n_seq).
 *
 * Capture (§1.3). For every sequence, every layer and query head, every causal pair (i, j):
 * P(i, j) = softmax_j(q_i · k_j / sqrt(d)) computed in float64 from the hook's post-RoPE q and the
 * layer's cached K (exact; not the flash kernel's fp32 online softmax), added into A_{l,h,i,j};
 * C_{i,j} += 1 per sequence (every causal pair of every sequence is valid — no padding — so the
 * count is the same for every layer and head and is stored once). Ā = A / (C + ε).
 * The hook also writes the true dense output through attn_causal, so later layers see exactly the
 * activations of an ordinary full-attention forward (checked bit for bit in tests/test_dam.c).
 * Each (head, query row) is summed by one thread in a fixed order and sequences are added in order,
 * so Ā, and hence the pattern file, is the same bytes for the same corpus and parameters. */
#ifndef DAM_DAM_CALIBRATE_H
#define DAM_DAM_CALIBRATE_H

#include <stddef.h>
#include <stdint.h>

#include "dam/patterns.h"
#include "model/llama.h"

/* The attention accumulator of one calibration: A [n_layers][n_heads][L (L + 1) / 2] (packed lower
 * triangle, float64, cell (i, j) at i (i + 1) / 2 + j, about 284 MB for SmolLM2-135M at L = 512)
 * and C [L (L + 1) / 2]. */
typedef struct dam_capture dam_capture;

/* A zeroed accumulator for model m (not owned; must outlive it) and capture length L >= 1. */
dam_capture *dam_capture_new(const llama_model *m, int L);

void dam_capture_free(dam_capture *c);

/* Runs tokens[0..L) through the model from position 0 (s is reset first; its capacity must be
 * >= L; its attention hook is set for the call and restored after) with full attention, and adds
 * this sequence's probabilities into A and its pairs into C (§1.3). */
void dam_capture_run(dam_capture *c, llama_state *s, const int32_t *tokens);

/* The llama_attn_fn hook dam_capture_run installs (ctx = the dam_capture): writes the true dense
 * output with attn_causal (exactly what the forward computes without a hook), then adds the
 * float64 probabilities of every query head and of every query row (positions n_k − n_q .. n_k − 1)
 * into A of `layer`; the call for layer 0 also adds 1 into C for each causal pair of those rows.
 * Public so tests can drive it with hand-made q, K, V; n_k must not exceed the capture length. */
void dam_capture_attn(void *ctx, int layer, float *out, int out_stride, const float *q, int q_stride, int n_q,
                      const float *k, const float *v, int kv_cap, int n_k);

/* Sequences accumulated so far (by dam_capture_run). */
int dam_capture_count(const dam_capture *c);

/* Ā = A / (C + ε) of (layer, q_head) into abar[L][L] (row i = query position); the upper triangle
 * is 0 (never accumulated). */
void dam_capture_average(const dam_capture *c, int layer, int q_head, double eps, double *abar);

/* Reads a whole corpus file (plain text or gzip, through gzopen/gzread) into a dam_malloc'd
 * NUL-terminated buffer (*len bytes, caller frees) and writes the sha256 of the file's bytes as
 * stored on disk into sha256[65]. Exits with status 2 naming the path if it cannot be read, is not
 * valid gzip, or is empty. */
char *dam_corpus_read(const char *path, size_t *len, char sha256[65]);

/* The prefix tokens of policy "none" or "chat" (see above) into a dam_malloc'd *ids (caller
 * frees); returns their number. Exits with status 2 on an unknown policy or, for "chat", a model
 * without a recognised chat template (naming the model file). */
int dam_calib_prefix(const llama_model *m, const char *policy, int32_t **ids);

/* Evenly spaced start offsets (see above) of n_seq bodies of `body` tokens in a corpus of
 * n_tokens tokens into offsets[n_seq]. Returns 0, or -1 if the corpus is too short (n_tokens <
 * body) or has fewer than n_seq distinct offsets (n_tokens − body + 1 < n_seq). */
int dam_calib_offsets(int64_t n_tokens, int body, int n_seq, int64_t *offsets);

/* Options of dam_calibrate. */
typedef struct {
    const char *corpus_path;  /* file to read */
    const char *corpus_label; /* recorded as the corpus attribute (e.g. "data/jargon.txt.gz") */
    const char *prefix;       /* "none" or "chat" */
    int n_seq;                /* sequences, >= 1 */
    dam_params par;           /* Stage 1 parameters; par.L is the sequence length */
    int progress;             /* non-zero: one progress line per sequence on stderr */
} dam_calib_opts;

/* The whole Stage 1 for model m: corpus → sequences → capture → Ā → stage1 → pattern set with
 * provenance filled (model name and sha256, corpus label and sha256, corpus tokens, prefix,
 * n_sequences). Input problems (unreadable corpus, L beyond the corpus or the model's context,
 * bad parameters) exit with status 2 naming the path or the parameter. Caller frees the set. */
dam_patterns *dam_calibrate(const llama_model *m, const dam_calib_opts *o);

#endif
