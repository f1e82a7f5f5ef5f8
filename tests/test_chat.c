/* test_chat.c — model/chat.c: template recognition and the rendered user turn, against the
 * upstream templates quoted verbatim:
 *   - SmolLM2-135M-Instruct's tokenizer.chat_template (ChatML with a default system turn), as stored
 *     in its GGUF;
 *   - Google's Gemma-2 template, as llama.cpp vendors it (models/templates/google-gemma-2-2b-it.jinja
 *     at commit 0c1e570; Gemma 3's template renders a user turn the same way and adds only the
 *     merging of a system turn into the first user turn);
 * and the expected renderings written out by hand from those templates with one user message and
 * add_generation_prompt = true. An unknown template is an input error (exit 2), checked in a child. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/mem.h"
#include "model/chat.h"
#include "tests/test.h"

static const char *SMOLLM2 =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou "
    "are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + "
    "message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt "
    "%}{{ '<|im_start|>assistant\n' }}{% endif %}";

static const char *GEMMA2 =
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif "
    "%}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ "
    "raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if "
    "(message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif "
    "%}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if "
    "add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";

static void expect_render(const char *tmpl, chat_format fmt, const char *user, const char *want) {
    chat_template t = chat_detect(tmpl, "test");
    CHECK(t.format == fmt, "format %d, expected %d", t.format, fmt);
    char *got = chat_render_user(&t, user);
    CHECK(strcmp(got, want) == 0, "rendered\n%s\nexpected\n%s", got, want);
    dam_free(got);
    chat_template_free(&t);
}

int main(void) {
    size_t mem0 = dam_mem_in_use();
    expect_render(SMOLLM2, CHAT_CHATML, "What is 2+2?",
                  "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                  "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
    /* ChatML does not trim */
    expect_render(SMOLLM2, CHAT_CHATML, " x \n",
                  "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                  "<|im_start|>user\n x \n<|im_end|>\n<|im_start|>assistant\n");
    expect_render(GEMMA2, CHAT_GEMMA, "What is 2+2?",
                  "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n");
    /* | trim: leading and trailing whitespace go, inner whitespace stays */
    expect_render(GEMMA2, CHAT_GEMMA, " \n\tline one\n\nline two \n\n",
                  "<start_of_turn>user\nline one\n\nline two<end_of_turn>\n<start_of_turn>model\n");
    expect_render(GEMMA2, CHAT_GEMMA, "  \n", "<start_of_turn>user\n<end_of_turn>\n<start_of_turn>model\n");
    /* no template: the text itself */
    chat_template none = chat_detect(NULL, "test");
    CHECK(none.format == CHAT_NONE, "NULL template");
    char *raw = chat_render_user(&none, " as is ");
    CHECK(strcmp(raw, " as is ") == 0, "CHAT_NONE renders the text unchanged");
    dam_free(raw);
    /* an unknown template exits with status 2 */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        chat_detect("{{ messages[0]['content'] }}[INST]", "model.gguf");
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2, "unknown template: exit status %d, expected 2", WEXITSTATUS(st));
    CHECK(dam_mem_in_use() == mem0, "leaked %zu bytes", dam_mem_in_use() - mem0);
    return test_done("chat");
}
