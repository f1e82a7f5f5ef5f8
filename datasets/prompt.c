/* prompt.c — see prompt.h. */
#include "datasets/prompt.h"

#include <string.h>

#include "core/error.h"
#include "core/mem.h"

prompt_style prompt_style_init(const llama_model *m, const char *style) {
    prompt_style st = {m->tok, false, {CHAT_NONE, NULL}};
    if (strcmp(style, "chat") == 0) st.chat = true;
    else if (strcmp(style, "completion") != 0) dam_die(DAM_EXIT_INPUT, "prompt style \"%s\" is not one of: completion, chat", style);
    if (st.chat) st.tmpl = chat_detect(m->chat_template, m->path);
    return st;
}

int32_t *prompt_ids(const prompt_style *st, const char *user, const char *completion_prefix, const char *chat_prefix, int *n) {
    char *head = st->chat ? chat_render_user(&st->tmpl, user) : dam_strdup(user, "prompt");
    const char *tail = st->chat ? chat_prefix : completion_prefix;
    size_t a = strlen(head), b = strlen(tail);
    char *text = dam_malloc(a + b + 1, "prompt");
    memcpy(text, head, a);
    memcpy(text + a, tail, b + 1);
    dam_free(head);
    int32_t *ids = NULL;
    *n = tok_encode(st->tok, text, a + b, true, st->chat && st->tmpl.format != CHAT_NONE, &ids);
    dam_free(text);
    return ids;
}

int32_t *prompt_text_ids(const tokenizer *t, const char *text, int *n) {
    int32_t *ids = NULL;
    *n = tok_encode(t, text, strlen(text), false, false, &ids);
    return ids;
}

void prompt_style_free(prompt_style *st) { chat_template_free(&st->tmpl); }
