/* cmd_bench.c — `dam bench`: prefill latency and peak memory of the model at several prompt
 * lengths, on the CPU or the GPU, with full attention or any configured method.
 * Prompts are deterministic pseudo-random token ids (latency does not depend on content); each
 * (length, method) is run `warmup` times untimed, then `repeats` times; the median is reported.
 * With --method, the method's attention runs through attn_ctx as in `dam run` (plans built for the
 * prompt, mask-build time reported separately, alignment off). --synthetic times a named larger
 * shape with random weights on the GPU (model/synthetic.h): latency and memory only. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/timer.h"
#include "harness/args.h"
#include "harness/attn_ctx.h"
#include "harness/cfg.h"
#include "harness/commands.h"
#include "harness/config.h"
#include "harness/method.h"
#include "harness/registry.h"
#include "harness/results_h5.h"
#include "harness/version.h"
#include "kernels/cpu/attention_masked.h"
#include "model/llama.h"
#include "model/llama_cuda.h"
#include "model/synthetic.h"

static const char *HELP =
    "usage: dam bench [--model M | --synthetic SHAPE] [--device cpu|cuda] [--method M ...]\n"
    "                 [--lengths 1024,2048,4096] [--repeats 3] [--warmup 1] [--chunk 512] [--threads N]\n"
    "                 [--attention] [-o FILE.h5]\n"
    "\n"
    "Measures prefill (prompt processing and the logits of the last token): median wall time over\n"
    "the repeats after the warm-ups, tokens/s, mask-build time, KV-cache bytes and peak memory (CPU:\n"
    "the allocator's high-water mark incl. weights; GPU: the device high-water mark incl. weights).\n"
    "  --model M      GGUF file, Hugging Face directory or registered name (default smollm2-135m)\n"
    "  --synthetic S  no model file: seeded random bf16 weights of a named shape on the GPU, for\n"
    "                 latency and memory only (needs --device cuda); shapes: smollm2-135m,\n"
    "                 llama3.2-1b, llama3.1-8b, qwen2.5-7b; not with dam (no calibration of\n"
    "                 random weights) nor moa (its profile is SmolLM2's)\n"
    "  --device D     cpu (default) or cuda (a `make cuda-dam` build)\n"
    "  --method M     time this method (repeatable, up to 8): a name of the embedded default config's\n"
    "                 methods (full, streaming, dam), another method name with its defaults, or a\n"
    "                 JSON method object as in a config; without --method: the model's own dense\n"
    "                 attention, no method hook\n"
    "  --lengths L    comma-separated prompt lengths in tokens (default 1024,2048,4096)\n"
    "  --repeats N    timed runs per length (default 3)\n"
    "  --warmup N     untimed runs before them (default 1; 0 for very long prompts)\n"
    "  --chunk N      prefill chunk size in tokens (default 512); methods that need the whole prompt\n"
    "                 (dynamic ones) get one step\n"
    "  --threads N    CPU threads (default 0: all cores)\n"
    "  -o FILE.h5     also write the rows to an HDF5 file (group /bench, one dataset per column;\n"
    "                 the run's settings as root attributes; docs/hdf5.md), rewritten atomically\n"
    "                 after every row, so an interrupted bench leaves the rows done so far\n"
    "  --attention    (CPU) also time one layer of attention alone at each length (SmolLM2 shape: 9\n"
    "                 query heads, 3 KV heads, head_dim 64): the dense kernel, the masked kernel\n"
    "                 with dense plans, and with a DAM-like vertical-slash plan; GFLOP/s counts\n"
    "                 causal FLOPs. GPU kernels: build-cuda/cuda/bench_attention_masked_cuda (docs/cuda.md)\n";

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *x, int n) {
    qsort(x, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* A method from --method's argument: a JSON object, a method of the embedded default config, or
 * {"method": NAME}. Parsed with the config's own rules (errors name "--method"). */
static void parse_method(const char *arg, method *out) {
    json_t *obj = NULL;
    if (arg[0] == '{') {
        json_error_t e;
        obj = json_loads(arg, 0, &e);
        if (!obj || !json_is_object(obj)) dam_die(DAM_EXIT_INPUT, "--method %s: not a JSON object (%s)", arg, obj ? "" : e.text);
    } else {
        json_t *def = json_loads(DAM_DEFAULT_CONFIG, 0, NULL);
        size_t i;
        json_t *mo;
        json_array_foreach(json_object_get(def, "methods"), i, mo) {
            const char *kind = json_string_value(json_object_get(mo, "method")), *name = json_string_value(json_object_get(mo, "name"));
            if ((name && strcmp(name, arg) == 0) || (!name && kind && strcmp(kind, arg) == 0)) obj = json_deep_copy(mo);
        }
        json_decref(def);
        if (obj == NULL) obj = json_pack("{ss}", "method", arg);
    }
    json_t *res = json_object();
    const cfg_obj c = {"--method", "", obj, res};
    method_parse(&c, out);
    json_decref(res);
    json_decref(obj);
}

/* The rows so far, and what `-o` writes with them. */
typedef struct {
    int n;
    int64_t tokens[256], kv[256], peak[256];
    const char *method[256];
    double median[256], min[256], mask[256], tps[256];
} bench_rows;

/* Writes the rows and the run's settings (attrs) to `path` (results_write_table_h5). */
static void write_rows(const char *path, const char *const (*attrs)[2], int n_attrs, const bench_rows *b) {
    const results_column cols[] = {
        {"tokens", RESULTS_COL_I64, b->tokens, "tokens", "prompt length"},
        {"method", RESULTS_COL_STR, b->method, NULL, "method name; \"(dense)\" = the model's own dense attention, no hook"},
        {"median_ms", RESULTS_COL_F64, b->median, "ms", "median prefill wall time over the timed runs"},
        {"min_ms", RESULTS_COL_F64, b->min, "ms", "fastest timed run"},
        {"mask_ms", RESULTS_COL_F64, b->mask, "ms", "median mask-build time (plans, estimation, conversion), included in median_ms"},
        {"tokens_per_s", RESULTS_COL_F64, b->tps, "tokens/s", "tokens / median_ms"},
        {"kv_bytes", RESULTS_COL_I64, b->kv, "bytes", "KV cache held for the prompt"},
        {"peak_bytes", RESULTS_COL_I64, b->peak, "bytes", "peak memory: CPU allocator high-water mark + weights, or the GPU device high-water mark"},
    };
    results_write_table_h5(path, attrs, n_attrs, "bench", cols, (int)(sizeof cols / sizeof cols[0]), b->n);
}

int cmd_bench(int argc, char **argv) {
    const char *model = "smollm2-135m", *synthetic = NULL, *device = "cpu", *method_args[8], *output = NULL;
    bool model_given = false;
    long lengths[32] = {1024, 2048, 4096};
    int n_len = 3, n_methods = 0;
    long repeats = 3, warmup = 1, chunk = 512, threads = 0;
    int attention = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { fputs(HELP, stdout); return 0; }
        else if (strcmp(a, "--model") == 0) model = arg_value(argc, argv, &i), model_given = true;
        else if (strcmp(a, "--synthetic") == 0) synthetic = arg_value(argc, argv, &i);
        else if (strcmp(a, "--device") == 0) device = arg_value(argc, argv, &i);
        else if (strcmp(a, "--method") == 0) {
            if (n_methods == 8) dam_die(DAM_EXIT_INPUT, "bench: more than 8 --method");
            method_args[n_methods++] = arg_value(argc, argv, &i);
        }
        else if (strcmp(a, "--lengths") == 0) n_len = arg_long_list(a, arg_value(argc, argv, &i), 1, 1 << 24, lengths, 32);
        else if (strcmp(a, "--repeats") == 0) repeats = arg_long(a, arg_value(argc, argv, &i), 1, 1000);
        else if (strcmp(a, "--warmup") == 0) warmup = arg_long(a, arg_value(argc, argv, &i), 0, 100);
        else if (strcmp(a, "--chunk") == 0) chunk = arg_long(a, arg_value(argc, argv, &i), 1, 1 << 24);
        else if (strcmp(a, "--threads") == 0) threads = arg_long(a, arg_value(argc, argv, &i), 0, 4096);
        else if (strcmp(a, "--attention") == 0) attention = 1;
        else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) output = arg_value(argc, argv, &i);
        else dam_die(DAM_EXIT_INPUT, "bench: unknown argument %s (see --help)", a);
    }
    const bool cuda = strcmp(device, "cuda") == 0;
    if (!cuda && strcmp(device, "cpu") != 0) dam_die(DAM_EXIT_INPUT, "--device %s: not cpu or cuda", device);
    if (synthetic && !cuda) dam_die(DAM_EXIT_INPUT, "--synthetic %s: needs --device cuda (weights are made on the GPU)", synthetic);
    if (synthetic && model_given) dam_die(DAM_EXIT_INPUT, "--synthetic %s and --model %s exclude each other", synthetic, model);
    if (cuda && attention)
        dam_die(DAM_EXIT_INPUT, "--attention times the CPU kernels; for the GPU kernels run build-cuda/cuda/bench_attention_masked_cuda");
    if (output) { /* its folder must exist and be writable before any work */
        char *dir = dam_strdup(output, "path"), *slash = strrchr(dir, '/');
        if (slash == dir) slash[1] = 0;
        else if (slash) *slash = 0;
        if (access(slash ? dir : ".", W_OK) != 0)
            dam_die(DAM_EXIT_INPUT, "-o %s: folder %s does not exist or is not writable", output, slash ? dir : ".");
        dam_free(dir);
    }
    if (cuda) llama_cuda_require_device(); /* before loading the model or calibrating a method */
    set_threads((int)threads);
    char *path = synthetic ? dam_strdup(synthetic, "path") : model_resolve(model);
    llama_model *m = synthetic ? llama_synthetic_shape(synthetic) : llama_load(path);
    method *methods = dam_calloc(n_methods > 0 ? n_methods : 1, sizeof(method), "methods");
    for (int k = 0; k < n_methods; k++) {
        parse_method(method_args[k], &methods[k]);
        for (int j = 0; j < k; j++)
            if (strcmp(methods[j].name, methods[k].name) == 0)
                dam_die(DAM_EXIT_INPUT, "--method: two methods named \"%s\"; give one a \"name\" key", methods[k].name);
        if (synthetic && strcmp(methods[k].ops->kind, "dam") == 0)
            dam_die(DAM_EXIT_INPUT, "--method %s: DAM's masks come from a calibration of the model's own attention, which "
                    "--synthetic (random weights) has not; time it with --model", methods[k].name);
        method_prepare(&methods[k], m);
        if (cuda) attn_ctx_check_cuda(&methods[k]);
    }
    llama_cuda_model *gpu = !cuda ? NULL : synthetic ? llama_cuda_synthetic(m, 0x5EED) : llama_cuda_upload(m);
    long max_len = 0;
    for (int i = 0; i < n_len; i++) max_len = lengths[i] > max_len ? lengths[i] : max_len;

    int32_t *ids = dam_malloc(sizeof(int32_t) * max_len, "bench prompt");
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (long i = 0; i < max_len; i++) { /* xorshift64: ids in [32, vocab) skip the special tokens */
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        ids[i] = (int32_t)(32 + x % (uint64_t)(m->cfg.vocab - 32));
    }
    float *logits = dam_malloc(sizeof(float) * m->cfg.vocab, "logits");
    double *ms = dam_malloc(sizeof(double) * repeats, "timings"), *mask = dam_malloc(sizeof(double) * repeats, "timings");
    char dev[256] = "CPU", cv[32], dv[32];
    if (cuda) {
        char name[200];
        llama_cuda_device_info(name, sizeof name, cv, sizeof cv, dv, sizeof dv);
        dam_format(dev, sizeof dev, "GPU %s, CUDA %s, driver %s", name, cv, dv);
    }
    char thr[32] = "all cores";
    if (threads) dam_format(thr, sizeof thr, "%ld", threads);
    printf("# dam bench: %s (%s, %s), %s, prefill chunk %ld, %ld warm-up + %ld timed runs, CPU threads %s\n", m->name, path,
           m->quant, dev, chunk, warmup, repeats, thr);
    printf("%8s %-12s %12s %12s %10s %12s %10s %12s\n", "tokens", "method", "median_ms", "min_ms", "mask_ms", "tokens_per_s",
           "kv_MiB", "peak_MiB");
    fflush(stdout); /* (the header shows at once, also when stdout is a file and the run is cut short) */
    /* what -o records besides the rows: the settings, as strings */
    char created[32], s_chunk[24], s_warmup[24], s_repeats[24];
    results_utc_now(created);
    dam_format(s_chunk, sizeof s_chunk, "%ld", chunk);
    dam_format(s_warmup, sizeof s_warmup, "%ld", warmup);
    dam_format(s_repeats, sizeof s_repeats, "%ld", repeats);
    const char *const attrs[][2] = {
        {"kind", "dam bench"}, {"bench_schema_version", "1.0"}, {"dam_version", DAM_VERSION},
        {"git_revision", DAM_GIT_REVISION}, {"created", created}, {"model", m->name}, {"model_file", path},
        {"quant", m->quant}, {"synthetic", synthetic ? "yes: seeded random weights, latency and memory only" : "no"},
        {"device", dev}, {"prefill_chunk", s_chunk}, {"warmup", s_warmup}, {"repeats", s_repeats}, {"cpu_threads", thr},
    };
    bench_rows *rows = dam_calloc(1, sizeof *rows, "bench rows");
    for (int li = 0; li < n_len; li++) {
        const int n = (int)lengths[li];
        for (int k = 0; k < (n_methods ? n_methods : 1); k++) {
            const method *meth = n_methods ? &methods[k] : NULL;
            const int step = meth && method_whole_prompt(meth) ? n : (int)chunk;
            attn_ctx ctx;
            if (meth) attn_ctx_init(&ctx, m, meth);
            size_t peak = 0, kv = 0;
            for (long r = -warmup; r < repeats; r++) {
                dam_mem_reset_peak();
                llama_cuda_mem_reset_peak();
                const size_t base = dam_mem_in_use(); /* the weights (dam_malloc'd) are in it: counted once below */
                llama_state *s = gpu ? llama_cuda_state_new(m, gpu, n, step) : llama_state_new(m, n, step);
                double t0 = now_ms();
                if (meth) {
                    attn_ctx_prepare(&ctx, n, n, false);
                    attn_ctx_attach(&ctx, s);
                }
                llama_forward(m, s, ids, n, logits, 1);
                const double t = now_ms() - t0;
                kv = llama_state_kv_bytes(m, s);
                llama_state_free(s);
                if (r < 0) continue;
                ms[r] = t;
                mask[r] = meth ? ctx.mask_ms : 0;
                const size_t p = gpu ? llama_cuda_mem_peak() : m->weight_bytes + dam_mem_peak() - base; /* as dam run */
                peak = p > peak ? p : peak;
            }
            if (meth) attn_ctx_free(&ctx);
            const double med = median(ms, (int)repeats), mmask = median(mask, (int)repeats);
            printf("%8d %-12s %12.1f %12.1f %10.1f %12.1f %10.1f %12.1f\n", n, meth ? meth->name : "(dense)", med, ms[0],
                   mmask, n / (med / 1e3), kv / 1048576.0, peak / 1048576.0);
            fflush(stdout);
            const int r = rows->n++;
            rows->tokens[r] = n, rows->method[r] = meth ? meth->name : "(dense)", rows->median[r] = med;
            rows->min[r] = ms[0], rows->mask[r] = mmask, rows->tps[r] = n / (med / 1e3);
            rows->kv[r] = (int64_t)kv, rows->peak[r] = (int64_t)peak;
            if (output) write_rows(output, attrs, (int)(sizeof attrs / sizeof attrs[0]), rows);
        }
    }
    for (int li = 0; attention && li < n_len; li++) {
        attn_masked_bench(stdout, (int)lengths[li], 9, 3, 64, (int)repeats);
        fflush(stdout);
    }
    dam_free(rows);
    for (int k = 0; k < n_methods; k++) method_free(&methods[k]);
    dam_free(methods);
    llama_cuda_model_free(gpu);
    dam_free(ms); dam_free(mask); dam_free(logits); dam_free(ids); dam_free(path);
    llama_free(m);
    return 0;
}
