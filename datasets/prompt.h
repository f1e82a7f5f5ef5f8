/* prompt.h — how a task's user message becomes the prompt's token ids, the same way for every
 * method (docs/workloads.md, "Prompt styles"):
 *   completion: no chat template; BOS (per the model's policy) + message + the task's completion
 *               answer prefix, which the model continues (passkey / niah / RULER-style: small models
 *               ignore chat questions, workloads.md §10);
 *   chat:       the message as the single user turn of the model's own chat template (model/chat.h,
 *               ChatML for SmolLM2, with its default system turn) and the assistant header, then the
 *               task's chat answer prefix (RULER re-appends its answer prefix after the template;
 *               LongEval, LongBench and LV-Eval use none). A model without a template gets the raw
 *               message plus the chat answer prefix.
 * Special-token texts are parsed only inside the rendered template, never in task text. */
#ifndef DAM_DATASETS_PROMPT_H
#define DAM_DATASETS_PROMPT_H

#include <stdbool.h>
#include <stdint.h>

#include "model/chat.h"
#include "model/llama.h"

/* A prompt style bound to a model. Owns its template; release with prompt_style_free. */
typedef struct {
    const tokenizer *tok;  /* borrowed from the model */
    bool chat;             /* true: render as a chat user turn */
    chat_template tmpl;    /* the model's template (CHAT_NONE in completion style) */
} prompt_style;

/* Binds `style` ("completion" or "chat"; anything else exits with status 2) to model m. Chat
 * style reads the model's template; an unrecognised template exits with status 2 naming the model
 * file. */
prompt_style prompt_style_init(const llama_model *m, const char *style);

/* Token ids (dam_malloc'd, *n of them) of `user` in this style: completion appends
 * `completion_prefix`, chat appends `chat_prefix` after the assistant header (either may be ""). */
int32_t *prompt_ids(const prompt_style *st, const char *user, const char *completion_prefix, const char *chat_prefix, int *n);

/* Ids of plain text without BOS and without special-token parsing (answers, needles). */
int32_t *prompt_text_ids(const tokenizer *t, const char *text, int *n);

void prompt_style_free(prompt_style *st);

#endif
