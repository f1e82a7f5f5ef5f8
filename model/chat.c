/* chat.c — see chat.h. */
#include "model/chat.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

/* Finds the default system text in a ChatML template: the literal following
 * "<|im_start|>system" + newline (a real newline or the two characters \n) up to "<|im_end|>". */
static char *chatml_default_system(const char *tmpl) {
    const char *tag = "<|im_start|>system";
    const char *p = strstr(tmpl, tag);
    if (p == NULL) return NULL;
    p += strlen(tag);
    if (*p == '\n') p++;
    else if (p[0] == '\\' && p[1] == 'n') p += 2;
    else return NULL;
    const char *end = strstr(p, "<|im_end|>");
    if (end == NULL || memchr(p, '{', (size_t)(end - p)) != NULL) return NULL; /* not a literal */
    char *s = dam_malloc((size_t)(end - p) + 1, "chat system prompt");
    memcpy(s, p, (size_t)(end - p));
    s[end - p] = 0;
    return s;
}

chat_template chat_detect(const char *tmpl, const char *origin) {
    chat_template t = {CHAT_NONE, NULL};
    if (tmpl == NULL) return t;
    if (strstr(tmpl, "<|im_start|>") && strstr(tmpl, "<|im_end|>")) {
        t.format = CHAT_CHATML;
        t.default_system = chatml_default_system(tmpl);
        return t;
    }
    if (strstr(tmpl, "<start_of_turn>")) {
        t.format = CHAT_GEMMA;
        return t;
    }
    dam_die(DAM_EXIT_INPUT, "%s: tokenizer.chat_template is not a recognised template (supported: ChatML, Gemma); "
            "set chat_template explicitly or ask for none", origin);
}

static bool ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

char *chat_render_user(const chat_template *t, const char *user) {
    if (t->format == CHAT_NONE) return dam_strdup(user, "prompt");
    if (t->format == CHAT_GEMMA) {
        const char *b = user, *e = user + strlen(user);
        while (b < e && ascii_space(*b)) b++;
        while (e > b && ascii_space(e[-1])) e--;
        size_t n = (size_t)(e - b) + 64;
        char *out = dam_malloc(n, "chat prompt");
        snprintf(out, n, "<start_of_turn>user\n%.*s<end_of_turn>\n<start_of_turn>model\n", (int)(e - b), b);
        return out;
    }
    const char *sys = t->default_system;
    size_t n = strlen(user) + (sys ? strlen(sys) : 0) + 128;
    char *out = dam_malloc(n, "chat prompt");
    if (sys)
        snprintf(out, n, "<|im_start|>system\n%s<|im_end|>\n<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n",
                 sys, user);
    else
        snprintf(out, n, "<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n", user);
    return out;
}

void chat_template_free(chat_template *t) {
    dam_free(t->default_system);
    t->default_system = NULL;
}
