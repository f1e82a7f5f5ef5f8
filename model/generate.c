/* generate.c — see generate.h. */
#include "model/generate.h"

#include "core/error.h"
#include "core/mem.h"
#include "core/timer.h"
#include "kernels/cpu/ops.h"

int generate_greedy(const llama_model *m, llama_state *s, const int32_t *prompt, int n_prompt, int max_new,
                    int32_t *out, gen_stats *stats) {
    if (n_prompt < 1) dam_die(DAM_EXIT_INPUT, "the prompt is empty (0 tokens)");
    if ((long)s->n_past + n_prompt + max_new > s->capacity)
        dam_die(DAM_EXIT_INPUT, "prompt (%d tokens) + %d new tokens exceed the KV cache capacity %d", n_prompt, max_new,
                s->capacity - s->n_past);
    dam_mem_reset_peak();
    float *logits = dam_malloc(sizeof(float) * m->cfg.vocab, "logits");
    double t0 = now_ms();
    llama_forward(m, s, prompt, n_prompt, logits, 1);
    double t1 = now_ms();
    int n = 0;
    while (n < max_new) {
        int32_t next = op_argmax(logits, m->cfg.vocab);
        out[n++] = next;
        if (tok_is_eog(m->tok, next) || n == max_new) break;
        llama_forward(m, s, &next, 1, logits, 1);
    }
    double t2 = now_ms();
    dam_free(logits);
    if (stats) {
        stats->n_prompt = n_prompt;
        stats->n_generated = n;
        stats->prefill_ms = t1 - t0;
        stats->decode_ms = t2 - t1;
        stats->peak_bytes = dam_mem_peak();
        stats->kv_bytes = llama_state_kv_bytes(m, s);
    }
    return n;
}
