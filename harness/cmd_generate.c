/* cmd_generate.c — `dam generate`: greedy continuation of a prompt, text on stdout, timings on
 * stderr. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "harness/args.h"
#include "harness/commands.h"
#include <jansson.h>

#include "harness/attn_ctx.h"
#include "harness/method.h"
#include "harness/sweep.h"
#include "harness/registry.h"
#include "model/chat.h"
#include "model/generate.h"
#include "model/llama.h"

static const char *HELP =
    "usage: dam generate --model M (--prompt TEXT | --prompt-file PATH) [options]\n"
    "\n"
    "Greedy (argmax) continuation of the prompt under an attention method. The new text goes to\n"
    "stdout; prompt length, prefill time (time to first token), mask-build time, decode time per\n"
    "token, peak memory of the harness allocator and KV-cache bytes go to stderr, and for sparse\n"
    "methods the per-layer mean density and mass recall against full attention (tail and spread\n"
    "rows of the prompt, measured in the same pass).\n"
    "  --model M          GGUF file, HF directory or registered name (smollm2-135m)\n"
    "  --prompt TEXT      the prompt (special-token texts such as <|im_start|> are recognised)\n"
    "  --prompt-file PATH read the prompt from a file ('-' = stdin)\n"
    "  --max-new N        new tokens at most (default 32); stops early at end-of-generation\n"
    "  --chat             wrap the prompt as one user turn of the model's chat template\n"
    "  --ids              also print the generated token ids (stderr)\n"
    "  --chunk N          prefill chunk size in tokens (default 512)\n"
    "  --method NAME      any method kind (full by default; docs/methods.md), with the defaults of docs/config.md;\n"
    "                     the flags below set the method's keys of the same name\n"
    "  --sinks N          streaming: attention-sink tokens (default 4)\n"
    "  --window N         streaming: recent-window tokens (default: half the prompt)\n"
    "  --patterns PATH    dam: pattern file (default patterns/smollm2-135m.h5; calibrated with the\n"
    "                     paper's defaults if missing, see dam calibrate)\n"
    "  --param KEY=VALUE  any other key of the method's config entry, VALUE as JSON (repeatable;\n"
    "                     e.g. --param pcl=64 --param sequences=2 for a small dam calibration)\n"
    "  --threads N        CPU threads (default 0: all cores)\n";

/* Per-layer means over heads of the exact density and the tail / spread mass recall (stderr). */
static void print_layer_alignment(const attn_ctx *c, const llama_model *m) {
    const int L = m->cfg.n_layers, H = m->cfg.n_heads;
    float *al = dam_malloc(sizeof(float) * L * H * ALIGN_N_METRICS, "alignment");
    float *de = dam_malloc(sizeof(float) * L * H, "density");
    double mean = attn_ctx_collect(c, al, de);
    fprintf(stderr, "layer  density  mass_recall(tail)  mass_recall(spread)  out_cos(tail)\n");
    double tot_t = 0, tot_s = 0;
    for (int l = 0; l < L; l++) {
        double d = 0, t = 0, sp = 0, oc = 0;
        for (int h = 0; h < H; h++) {
            const float *a = al + ((size_t)l * H + h) * ALIGN_N_METRICS;
            d += de[l * H + h];
            t += a[ALIGN_TAIL_MASS_RECALL];
            sp += a[ALIGN_SPREAD_MASS_RECALL];
            oc += a[ALIGN_TAIL_OUT_COS];
        }
        fprintf(stderr, "%5d  %7.4f  %17.4f  %19.4f  %13.4f\n", l, d / H, t / H, sp / H, oc / H);
        tot_t += t / H, tot_s += sp / H;
    }
    fprintf(stderr, "mean   %7.4f  %17.4f  %19.4f%s\n", mean, tot_t / L, tot_s / L,
            isnan(tot_s) ? "   (no spread rows: the prompt has <= 64 tokens)" : "");
    if (c->empty_rows) dam_warn("the masked kernel met %d empty rows", c->empty_rows);
    dam_free(al);
    dam_free(de);
}

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *prompt_file = NULL;
    long max_new = 32, chunk = 512, threads = 0, sinks = -1, window = 0;
    int chat = 0, show_ids = 0;
    const char *method_name = "full", *patterns = NULL;
    const char *params[32];
    int n_params = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { fputs(HELP, stdout); return 0; }
        else if (strcmp(a, "--model") == 0) model = arg_value(argc, argv, &i);
        else if (strcmp(a, "--prompt") == 0) prompt = arg_value(argc, argv, &i);
        else if (strcmp(a, "--prompt-file") == 0) prompt_file = arg_value(argc, argv, &i);
        else if (strcmp(a, "--max-new") == 0) max_new = arg_long(a, arg_value(argc, argv, &i), 1, 1 << 20);
        else if (strcmp(a, "--chunk") == 0) chunk = arg_long(a, arg_value(argc, argv, &i), 1, 1 << 20);
        else if (strcmp(a, "--threads") == 0) threads = arg_long(a, arg_value(argc, argv, &i), 0, 4096);
        else if (strcmp(a, "--chat") == 0) chat = 1;
        else if (strcmp(a, "--ids") == 0) show_ids = 1;
        else if (strcmp(a, "--method") == 0) method_name = arg_value(argc, argv, &i);
        else if (strcmp(a, "--sinks") == 0) sinks = arg_long(a, arg_value(argc, argv, &i), 0, 1 << 24);
        else if (strcmp(a, "--window") == 0) window = arg_long(a, arg_value(argc, argv, &i), 1, 1 << 24);
        else if (strcmp(a, "--patterns") == 0) patterns = arg_value(argc, argv, &i);
        else if (strcmp(a, "--param") == 0) {
            if (n_params == 32) dam_die(DAM_EXIT_INPUT, "generate: more than 32 --param");
            params[n_params++] = arg_value(argc, argv, &i);
        }
        else dam_die(DAM_EXIT_INPUT, "generate: unknown argument %s (see --help)", a);
    }
    if (model == NULL) dam_die(DAM_EXIT_INPUT, "generate: --model is required (see --help)");
    if ((prompt == NULL) == (prompt_file == NULL)) dam_die(DAM_EXIT_INPUT, "generate: give exactly one of --prompt or --prompt-file");
    /* the method is configured exactly as a config's methods[] entry would be */
    json_t *mj = json_pack("{s:s}", "method", method_name), *mres = json_object();
    if (sinks >= 0) json_object_set_new(mj, "sinks", json_integer(sinks));
    if (window > 0) json_object_set_new(mj, "window", json_integer(window));
    if (patterns) json_object_set_new(mj, "patterns", json_string(patterns));
    for (int p = 0; p < n_params; p++) { /* KEY=VALUE, VALUE as JSON (a bare word is a string) */
        const char *eq = strchr(params[p], '=');
        if (eq == NULL || eq == params[p] || (size_t)(eq - params[p]) >= 128)
            dam_die(DAM_EXIT_INPUT, "generate: --param %s: expected KEY=VALUE", params[p]);
        char key[128];
        memcpy(key, params[p], (size_t)(eq - params[p]));
        key[eq - params[p]] = 0;
        json_object_set_new(mj, key, config_value(eq + 1, "generate: --param", params[p]));
    }
    const cfg_obj mc = {"--method / --param", "", mj, mres};
    method meth;
    method_parse(&mc, &meth);
    json_decref(mj);
    json_decref(mres);
    set_threads((int)threads);
    char *file_text = prompt_file ? read_text_file(prompt_file, NULL) : NULL;
    const char *user = prompt ? prompt : file_text;

    char *path = model_resolve(model);
    llama_model *m = llama_load(path);
    chat_template tmpl = {CHAT_NONE, NULL};
    if (chat) tmpl = chat_detect(m->chat_template, path);
    if (chat && tmpl.format == CHAT_NONE) dam_die(DAM_EXIT_INPUT, "%s: --chat given but the model has no chat template", path);
    char *text = chat_render_user(&tmpl, user);
    int32_t *ids = NULL;
    int n = tok_encode(m->tok, text, strlen(text), true, true, &ids);
    if (n < 1) dam_die(DAM_EXIT_INPUT, "generate: the prompt is empty");

    method_prepare(&meth, m);
    llama_state *s = llama_state_new(m, n + (int)max_new, method_whole_prompt(&meth) && n > chunk ? n : (int)chunk);
    attn_ctx actx;
    attn_ctx_init(&actx, m, &meth);
    attn_ctx_prepare(&actx, n, n + (int)max_new, !method_is_full(&meth));
    attn_ctx_attach(&actx, s);
    int32_t *out = dam_malloc(sizeof(int32_t) * max_new, "generated ids");
    gen_stats st;
    int got = generate_greedy(m, s, ids, n, (int)max_new, out, &st);
    char *gen = tok_decode(m->tok, out, got, false);
    fputs(gen, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    if (show_ids) {
        fputs("generated ids:", stderr);
        for (int i = 0; i < got; i++) fprintf(stderr, " %d", out[i]);
        fputc('\n', stderr);
    }
    st.kv_bytes = attn_ctx_kv_bytes(&actx, s); /* methods that evict: the entries still held */
    int steps = got > 1 ? got - 1 : 0;
    fprintf(stderr,
            "method %s | prompt %d tokens | prefill %.1f ms (%.0f tok/s) | mask build %.1f ms | %d new tokens, "
            "decode %.2f ms/token | peak memory %.1f MiB | KV cache %.2f MiB\n",
            meth.name, st.n_prompt, st.prefill_ms, st.n_prompt / (st.prefill_ms / 1e3), actx.mask_ms, got,
            steps ? st.decode_ms / steps : 0.0, st.peak_bytes / 1048576.0, st.kv_bytes / 1048576.0);
    if (!method_is_full(&meth)) print_layer_alignment(&actx, m);
    attn_ctx_free(&actx);
    method_free(&meth);
    dam_free(gen); dam_free(out); dam_free(ids); dam_free(text); dam_free(file_text); dam_free(path);
    chat_template_free(&tmpl);
    llama_state_free(s);
    llama_free(m);
    return 0;
}
