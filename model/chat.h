/* chat.h — chat templates applied in C (DESIGN §6). The model's Jinja template
 * (tokenizer.chat_template) is recognised, not interpreted:
 *   CHAT_CHATML: "<|im_start|>{role}\n{content}<|im_end|>\n" turns (SmolLM2, Qwen2/2.5); when the
 *   template inserts a default system turn for conversations without one, the same default
 *   system text is inserted here (read from the template's literal).
 *   CHAT_GEMMA: "<start_of_turn>{role}\n{content | trim}<end_of_turn>\n" turns, the assistant's role
 *   named "model" (Gemma 2 / 3; recognised, as llama.cpp does, by "<start_of_turn>" in the
 *   template). The content is trimmed of leading and trailing ASCII whitespace, as the template's
 *   `| trim` and llama.cpp's built-in Gemma template do. The template's leading {{ bos_token }} is
 *   not rendered: the tokenizer adds the BOS (tokenizer.ggml.add_bos_token is true for Gemma).
 * An unrecognised template is an input error unless the caller asks for no template. */
#ifndef DAM_MODEL_CHAT_H
#define DAM_MODEL_CHAT_H

/* Template families recognised from tokenizer.chat_template. */
typedef enum { CHAT_NONE = 0, CHAT_CHATML = 1, CHAT_GEMMA = 2 } chat_format;

/* A recognised template: its format and the default system prompt (NULL if none). */
typedef struct {
    chat_format format;
    char *default_system; /* dam_malloc'd or NULL */
} chat_template;

/* Recognises `tmpl` (may be NULL: then format CHAT_NONE). Exits with status 2 naming `origin`
 * (the model file) if the template is present but not recognised. */
chat_template chat_detect(const char *tmpl, const char *origin);

/* Renders one user turn as the template would with add_generation_prompt = true: the default
 * system turn (if any), the user turn, and the assistant header. Returns a dam_malloc'd string.
 * With CHAT_NONE returns a copy of `user`. */
char *chat_render_user(const chat_template *t, const char *user);

void chat_template_free(chat_template *t);

#endif
