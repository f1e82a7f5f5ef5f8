/* rope.h — RoPE frequencies (Su et al. 2021) and the context-extension scalings of Hugging Face
 * config.json `rope_scaling`, computed as transformers' src/transformers/modeling_rope_utils.py
 * does (ROPE_INIT_FUNCTIONS; the formulas below are re-derived from that file, in double).
 *
 * d = head_dim (the rotary dimension: partial rotary is refused), i = 0 .. d/2 - 1, θ = rope_theta:
 *   default:  inv_freq[i] = θ^(-2i/d)                                         (_compute_default_rope_parameters)
 *   linear:   inv_freq[i] = θ^(-2i/d) / factor                                (_compute_linear_scaling_rope_parameters)
 *   dynamic:  θ' = θ · (factor · L / M − (factor − 1))^(d / (d − 2)), inv_freq[i] = θ'^(-2i/d), where
 *             M = max_position_embeddings and L = the sequence length the frequencies are computed
 *             for (L <= M: θ' = θ)                                             (_compute_dynamic_ntk_parameters)
 *   llama3:   w = 2π / inv_freq[i] (wavelength), O = original_max_position_embeddings,
 *             w > O / low_freq_factor  -> inv_freq / factor;   w < O / high_freq_factor -> inv_freq;
 *             else s = (O / w − low_freq_factor) / (high_freq_factor − low_freq_factor),
 *                  inv_freq = (1 − s) · inv_freq / factor + s · inv_freq       (_compute_llama3_parameters)
 *   yarn:     (Peng et al. 2023, "YaRN"; _compute_yarn_parameters after transformers PR #40320, which
 *             made the configured factor win over max_position_embeddings / original):
 *             O = original_max_position_embeddings if given, else max_position_embeddings;
 *             corr(r) = d · ln(O / (2π r)) / (2 ln θ); low = max(floor(corr(beta_fast)), 0),
 *             high = min(ceil(corr(beta_slow)), d − 1) (no floor/ceil when truncate is false);
 *             if low == high: high += 0.001;
 *             ramp[i] = clamp((i − low) / (high − low), 0, 1); e[i] = 1 − ramp[i];
 *             inv_freq[i] = θ^(-2i/d) / factor · (1 − e[i]) + θ^(-2i/d) · e[i];
 *             attention factor a = attention_factor if given, else
 *             g(factor, mscale) / g(factor, mscale_all_dim) if both mscale keys are given and non-zero,
 *             else g(factor, 1), with g(s, m) = 1 if s <= 1 else 0.1 · m · ln(s) + 1;
 *             cos and sin are multiplied by a (so attention logits by a²).
 * beta_fast / beta_slow default to 32 / 1. Every other type ("longrope", "ntk", ...) is refused
 * when config.json is read (model/hf_config.c).
 *
 * GGUF llama-3.1 files store the llama3 result as a `rope_freqs.weight` tensor of d/2 divisors
 * (llama.cpp: angle = pos · θ^(-2i/d) / rope_freqs[i]); rope_inv_freq applies them when given. */
#ifndef DAM_MODEL_ROPE_H
#define DAM_MODEL_ROPE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    ROPE_SCALING_NONE = 0,
    ROPE_SCALING_LINEAR = 1,
    ROPE_SCALING_DYNAMIC = 2,
    ROPE_SCALING_LLAMA3 = 3,
    ROPE_SCALING_YARN = 4,
} rope_scaling_type;

/* The parameters of config.json `rope_scaling` that the type uses (others are 0). */
typedef struct {
    rope_scaling_type type;
    double factor;            /* linear, dynamic, llama3, yarn */
    double low_freq_factor;   /* llama3 */
    double high_freq_factor;  /* llama3 */
    int original_max_pos;     /* llama3 (required), yarn (0: max_position_embeddings), tokens */
    double beta_fast;         /* yarn (default 32) */
    double beta_slow;         /* yarn (default 1) */
    double attn_factor;       /* yarn: the resolved attention factor a (1 for the other types) */
    bool truncate;            /* yarn (default true) */
} rope_scaling;

/* "none", "linear", "dynamic", "llama3", "yarn". */
const char *rope_scaling_name(rope_scaling_type t);

/* YaRN's g(s, m) = 0.1 m ln(s) + 1 for s > 1, else 1 (get_mscale in transformers). */
double rope_yarn_mscale(double s, double m);

/* Writes inv_freq[0 .. d/2) for head dimension d (even), base theta, scaling s (NULL: none),
 * max_pos = max_position_embeddings (tokens; used by dynamic and by yarn without
 * original_max_position_embeddings), seq_len = the sequence length dynamic scaling is computed
 * for (ignored by the other types), and divisors div[d/2] (GGUF rope_freqs; NULL: none).
 * Returns the factor cos and sin are multiplied by (yarn's attention factor, else 1). */
double rope_inv_freq(double *inv_freq, int d, double theta, const rope_scaling *s, int max_pos, int64_t seq_len,
                     const float *div);

#endif
