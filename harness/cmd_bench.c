/* cmd_bench.c — `dam bench`: CPU prefill throughput of the model at several prompt lengths.
 * Prompts are deterministic pseudo-random token ids (throughput does not depend on content);
 * each length is run once to warm up, then `repeats` times; the median is reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/timer.h"
#include "harness/args.h"
#include "harness/commands.h"
#include "harness/registry.h"
#include "kernels/cpu/attention_masked.h"
#include "model/llama.h"

static const char *HELP =
    "usage: dam bench [--model M] [--lengths 1024,2048,4096] [--repeats 3] [--chunk 512] [--threads N]\n"
    "\n"
    "Measures prefill (prompt processing, full causal attention, logits of the last token) on the\n"
    "CPU: median wall time over the repeats after one warm-up, tokens/s, and the allocator's peak.\n"
    "  --model M      GGUF file, Hugging Face directory or registered name (default smollm2-135m)\n"
    "  --lengths L    comma-separated prompt lengths in tokens (default 1024,2048,4096)\n"
    "  --repeats N    timed runs per length (default 3)\n"
    "  --chunk N      prefill chunk size in tokens (default 512)\n"
    "  --threads N    CPU threads (default: all cores)\n"
    "  --attention    also time one layer of attention alone at each length (SmolLM2 shape: 9 query\n"
    "                 heads, 3 KV heads, head_dim 64): the dense kernel, the masked kernel with dense\n"
    "                 plans, and with a DAM-like vertical-slash plan; GFLOP/s counts causal FLOPs\n";

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cmd_bench(int argc, char **argv) {
    const char *model = "smollm2-135m";
    long lengths[32] = {1024, 2048, 4096};
    int n_len = 3;
    long repeats = 3, chunk = 512, threads = 0;
    int attention = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { fputs(HELP, stdout); return 0; }
        else if (strcmp(a, "--model") == 0) model = arg_value(argc, argv, &i);
        else if (strcmp(a, "--lengths") == 0) n_len = arg_long_list(a, arg_value(argc, argv, &i), 1, 1 << 24, lengths, 32);
        else if (strcmp(a, "--repeats") == 0) repeats = arg_long(a, arg_value(argc, argv, &i), 1, 1000);
        else if (strcmp(a, "--chunk") == 0) chunk = arg_long(a, arg_value(argc, argv, &i), 1, 1 << 20);
        else if (strcmp(a, "--threads") == 0) threads = arg_long(a, arg_value(argc, argv, &i), 1, 4096);
        else if (strcmp(a, "--attention") == 0) attention = 1;
        else dam_die(DAM_EXIT_INPUT, "bench: unknown argument %s (see --help)", a);
    }
    set_threads((int)threads);
    char *path = model_resolve(model);
    llama_model *m = llama_load(path);
    long max_len = 0;
    for (int i = 0; i < n_len; i++) max_len = lengths[i] > max_len ? lengths[i] : max_len;

    int32_t *ids = dam_malloc(sizeof(int32_t) * max_len, "bench prompt");
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (long i = 0; i < max_len; i++) { /* xorshift64: ids in [32, vocab) skip the special tokens */
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        ids[i] = (int32_t)(32 + x % (uint64_t)(m->cfg.vocab - 32));
    }
    float *logits = dam_malloc(sizeof(float) * m->cfg.vocab, "logits");
    double *ms = dam_malloc(sizeof(double) * repeats, "timings");
    printf("# dam bench: %s (%s, %s), CPU prefill, chunk %ld, threads %d\n", m->name, path, m->quant, chunk,
           threads ? (int)threads : 0);
    printf("%8s %12s %12s %12s %14s\n", "tokens", "median_ms", "min_ms", "tokens_per_s", "peak_MiB");
    for (int li = 0; li < n_len; li++) {
        int n = (int)lengths[li];
        llama_state *s = llama_state_new(m, n, (int)chunk);
        llama_forward(m, s, ids, n, logits, 1); /* warm-up */
        size_t peak = 0;
        for (long r = 0; r < repeats; r++) {
            llama_state_reset(s);
            dam_mem_reset_peak();
            double t0 = now_ms();
            llama_forward(m, s, ids, n, logits, 1);
            ms[r] = now_ms() - t0;
            peak = dam_mem_peak() > peak ? dam_mem_peak() : peak;
        }
        qsort(ms, repeats, sizeof(double), cmp_double);
        double med = repeats % 2 ? ms[repeats / 2] : 0.5 * (ms[repeats / 2 - 1] + ms[repeats / 2]);
        printf("%8d %12.1f %12.1f %12.1f %14.1f\n", n, med, ms[0], n / (med / 1e3), peak / 1048576.0);
        fflush(stdout);
        llama_state_free(s);
    }
    for (int li = 0; attention && li < n_len; li++) {
        attn_masked_bench(stdout, (int)lengths[li], 9, 3, 64, (int)repeats);
        fflush(stdout);
    }
    dam_free(ms); dam_free(logits); dam_free(ids); dam_free(path);
    llama_free(m);
    return 0;
}
