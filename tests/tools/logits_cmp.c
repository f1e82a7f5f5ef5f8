/* logits_cmp.c — the same weights through two loaders (built by `make` as
 * $(BUILD)/tests/tools/logits_cmp; not a self-checking test).
 *
 *   logits_cmp GGUF HF_DIR [N]
 *       Loads GGUF with llama_load_gguf_weights and HF_DIR with llama_load_hf_weights (no tokenizers),
 *       runs N (default 300) seeded random token ids (core/rng.h, seed 1, stream 1) through each in one
 *       prefill of 128-token chunks and prints one line:
 *         "N positions: relative L2 R, max |diff| M, argmax agree A/N, pairing gguf P hf Q"
 *       R: ||a − b|| / ||a|| over all logits; A: positions whose argmax is the same; P, Q: rope_pairing.
 *       Exits 2 when a model cannot be loaded or the vocabularies differ.
 * Why: tests/fixtures/gen/gguf_to_hf_dir.py writes a llama GGUF's weights as an HF directory with
 * the Q/K permutation undone; the two paths then differ only in their RoPE pairing convention
 * (adjacent on permuted rows vs rotate_half), so they must agree to rounding (docs/models.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/rng.h"
#include "model/hf_load.h"
#include "model/llama.h"

int main(int argc, char **argv) {
    if (argc < 3) dam_die(DAM_EXIT_INPUT, "usage: logits_cmp GGUF HF_DIR [N]");
    const int n = argc > 3 ? atoi(argv[3]) : 300;
    if (n < 1) dam_die(DAM_EXIT_INPUT, "N must be positive");
    llama_model *g = llama_load_gguf_weights(argv[1]), *h = llama_load_hf_weights(argv[2]);
    const int V = g->cfg.vocab;
    if (h->cfg.vocab != V) dam_die(DAM_EXIT_INPUT, "%s: vocab %d differs from %s's %d", argv[2], h->cfg.vocab, argv[1], V);
    int32_t *ids = dam_malloc(sizeof(int32_t) * (size_t)n, "ids");
    rng_t r = rng_seed(1, 1);
    for (int i = 0; i < n; i++) ids[i] = (int32_t)rng_range(&r, 0, V - 1);
    float *a = dam_malloc(sizeof(float) * (size_t)n * V, "logits"), *b = dam_malloc(sizeof(float) * (size_t)n * V, "logits");
    llama_state *s = llama_state_new(g, n, 128);
    llama_forward(g, s, ids, n, a, n);
    llama_state_free(s);
    s = llama_state_new(h, n, 128);
    llama_forward(h, s, ids, n, b, n);
    llama_state_free(s);
    double num = 0, den = 0, mx = 0;
    int agree = 0;
    for (int t = 0; t < n; t++) {
        const float *x = a + (size_t)t * V, *y = b + (size_t)t * V;
        int ia = 0, ib = 0;
        for (int v = 0; v < V; v++) {
            double d = (double)x[v] - y[v];
            num += d * d;
            den += (double)x[v] * x[v];
            if (fabs(d) > mx) mx = fabs(d);
            if (x[v] > x[ia]) ia = v;
            if (y[v] > y[ib]) ib = v;
        }
        agree += ia == ib;
    }
    printf("%d positions: relative L2 %.3g, max |diff| %.3g, argmax agree %d/%d, pairing gguf %d hf %d\n", n,
           sqrt(num / den), mx, agree, n, g->cfg.rope, h->cfg.rope);
    dam_free(ids); dam_free(a); dam_free(b);
    llama_free(g); llama_free(h);
    return 0;
}
