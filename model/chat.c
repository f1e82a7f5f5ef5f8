/* chat.c — see chat.h. */
#include "model/chat.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

/* Finds the default system text in a ChatML template: the first literal that follows
 * "<|im_start|>system" + newline (a real newline or the two characters \n) and runs up to
 * "<|im_end|>" without a Jinja expression or string quote in between. Occurrences followed by an
 * expression are skipped: Qwen2.5's template first writes "<|im_start|>system\n" in its tools
 * branch and then "'<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>'" for a given
 * system turn, before its literal default ("You are Qwen, created by Alibaba Cloud. ..."). */
static char *chatml_default_system(const char *tmpl) {
    const char *tag = "<|im_start|>system";
    for (const char *p = strstr(tmpl, tag); p != NULL; p = strstr(p, tag)) {
        p += strlen(tag);
        if (*p == '\n') p++;
        else if (p[0] == '\\' && p[1] == 'n') p += 2;
        else continue;
        const char *end = strstr(p, "<|im_end|>");
        if (end == NULL) return NULL;
        size_t n = (size_t)(end - p);
        if (memchr(p, '{', n) || memchr(p, '\'', n) || memchr(p, '"', n)) continue; /* not one literal */
        char *s = dam_malloc(n + 1, "chat system prompt");
        memcpy(s, p, n);
        s[n] = 0;
        return s;
    }
    return NULL;
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
