/* test_chat.c — model/chat.c: template recognition and the rendered user turn, against the
 * upstream templates quoted verbatim:
 *   - SmolLM2-135M-Instruct's tokenizer.chat_template (ChatML with a default system turn), as stored
 *     in its GGUF;
 *   - Qwen2.5-Coder-0.5B-Instruct's (ChatML; "<|im_start|>system\n" appears twice before the literal
 *     default system turn, in the tools branch and for a given system message), as stored in its GGUF;
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

/* Qwen2.5-Coder-0.5B-Instruct's tokenizer.chat_template, as stored in its GGUF (Qwen2.5's template:
 * a tools branch, then the default system turn). */
static const char *QWEN25 =
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n"
    "    {%- else %}\n"
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n"
    "    {%- endif %}\n"
    "    {{- \"\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n"
    "    {%- for tool in tools %}\n"
    "        {{- \"\\n\" }}\n"
    "        {{- tool | tojson }}\n"
    "    {%- endfor %}\n"
    "    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, \\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n"
    "{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or (message.role == \"assistant\" and not message.tool_calls) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    "    {%- elif message.role == \"assistant\" %}\n"
    "        {{- '<|im_start|>' + message.role }}\n"
    "        {%- if message.content %}\n"
    "            {{- '\\n' + message.content }}\n"
    "        {%- endif %}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- if tool_call.function is defined %}\n"
    "                {%- set tool_call = tool_call.function %}\n"
    "            {%- endif %}\n"
    "            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n"
    "            {{- tool_call.name }}\n"
    "            {{- '\", \"arguments\": ' }}\n"
    "            {{- tool_call.arguments | tojson }}\n"
    "            {{- '}\\n</tool_call>' }}\n"
    "        {%- endfor %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    "    {%- elif message.role == \"tool\" %}\n"
    "        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != \"tool\") %}\n"
    "            {{- '<|im_start|>user' }}\n"
    "        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- message.content }}\n"
    "        {{- '\\n</tool_response>' }}\n"
    "        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n"
    "            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n"
    "";

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
    /* Qwen2.5: no system message and no tools -> the template's else-branch default system turn */
    expect_render(QWEN25, CHAT_CHATML, "What is 2+2?",
                  "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                  "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
    /* ChatML whose only system header is followed by an expression: no default system turn */
    expect_render("{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}<|im_start|>", CHAT_CHATML,
                  "hi", "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
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
