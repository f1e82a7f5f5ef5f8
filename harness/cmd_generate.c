/* cmd_generate.c — `dam generate`: greedy continuation of a prompt, text on stdout, timings on
 * stderr. */
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"
#include "harness/args.h"
#include "harness/commands.h"
#include "harness/registry.h"
#include "model/chat.h"
#include "model/generate.h"
#include "model/llama.h"

static const char *HELP =
    "usage: dam generate --model M (--prompt TEXT | --prompt-file PATH) [options]\n"
    "\n"
    "Greedy (argmax) continuation of the prompt with full causal attention. The new text goes to\n"
    "stdout; prompt length, prefill time (time to first token), decode time per token, peak\n"
    "memory of the harness allocator and KV-cache bytes go to stderr.\n"
    "  --model M          GGUF file or registered name (smollm2-135m)\n"
    "  --prompt TEXT      the prompt (special-token texts such as <|im_start|> are recognised)\n"
    "  --prompt-file PATH read the prompt from a file ('-' = stdin)\n"
    "  --max-new N        new tokens at most (default 32); stops early at end-of-generation\n"
    "  --chat             wrap the prompt as one user turn of the model's chat template\n"
    "  --ids              also print the generated token ids (stderr)\n"
    "  --chunk N          prefill chunk size in tokens (default 512)\n"
    "  --threads N        CPU threads (default: all cores)\n";

int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *prompt_file = NULL;
    long max_new = 32, chunk = 512, threads = 0;
    int chat = 0, show_ids = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { fputs(HELP, stdout); return 0; }
        else if (strcmp(a, "--model") == 0) model = arg_value(argc, argv, &i);
        else if (strcmp(a, "--prompt") == 0) prompt = arg_value(argc, argv, &i);
        else if (strcmp(a, "--prompt-file") == 0) prompt_file = arg_value(argc, argv, &i);
        else if (strcmp(a, "--max-new") == 0) max_new = arg_long(a, arg_value(argc, argv, &i), 1, 1 << 20);
        else if (strcmp(a, "--chunk") == 0) chunk = arg_long(a, arg_value(argc, argv, &i), 1, 1 << 20);
        else if (strcmp(a, "--threads") == 0) threads = arg_long(a, arg_value(argc, argv, &i), 1, 4096);
        else if (strcmp(a, "--chat") == 0) chat = 1;
        else if (strcmp(a, "--ids") == 0) show_ids = 1;
        else dam_die(DAM_EXIT_INPUT, "generate: unknown argument %s (see --help)", a);
    }
    if (model == NULL) dam_die(DAM_EXIT_INPUT, "generate: --model is required (see --help)");
    if ((prompt == NULL) == (prompt_file == NULL)) dam_die(DAM_EXIT_INPUT, "generate: give exactly one of --prompt or --prompt-file");
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

    llama_state *s = llama_state_new(m, n + (int)max_new, (int)chunk);
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
    int steps = got > 1 ? got - 1 : 0;
    fprintf(stderr,
            "prompt %d tokens | prefill %.1f ms (%.0f tok/s) | %d new tokens, decode %.2f ms/token | "
            "peak memory %.1f MiB | KV cache %.2f MiB\n",
            st.n_prompt, st.prefill_ms, st.n_prompt / (st.prefill_ms / 1e3), got,
            steps ? st.decode_ms / steps : 0.0, st.peak_bytes / 1048576.0, st.kv_bytes / 1048576.0);
    dam_free(gen); dam_free(out); dam_free(ids); dam_free(text); dam_free(file_text); dam_free(path);
    chat_template_free(&tmpl);
    llama_state_free(s);
    llama_free(m);
    return 0;
}
