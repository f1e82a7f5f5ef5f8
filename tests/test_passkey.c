/* test_passkey.c — the passkey prompt builder against the upstream format (a hand-written
 * expected prompt), the scorer on hand-made outputs, and the real model with full attention
 * retrieving a passkey from ~1.1K-token completion-style prompts at depths 10%, 50%, 90%. */
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "datasets/passkey.h"
#include "model/generate.h"
#include "model/llama.h"
#include "test.h"

int main(void) {
    /* format: 30 filler characters before the key (cut mid-word), 12 after */
    char *p = passkey_prompt(4242, 42, 30);
    const char *want =
        "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz "
        "you about the important information there.\nThe grass is green. The sky is\nThe pass key is 4242. Remember it. "
        "4242 is the pass key.\nThe grass is\nWhat is the pass key? The pass key is";
    CHECK(strcmp(p, want) == 0, "prompt differs:\n%s", p);
    dam_free(p);
    CHECK(passkey_max_garbage() == 179999, "G_inf has %d characters", passkey_max_garbage());

    CHECK(passkey_score(" 4242. Remember it.", 4242) == 1, "plain");
    CHECK(passkey_score(" 42421", 4242) == 0, "longer number");
    CHECK(passkey_score(" is 424", 4242) == 0, "prefix of the key");
    CHECK(passkey_score(" no digits", 4242) == 0, "no digits");
    CHECK(passkey_score("7 then 4242", 4242) == 0, "first number counts");

    llama_model *m = llama_load("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    const int keys[3] = {31337, 68491, 4721};
    const double depth[3] = {0.1, 0.5, 0.9};
    for (int i = 0; i < 3; i++) {
        char *prompt = passkey_prompt(keys[i], 3800, (int)(3800 * depth[i]));
        int32_t *ids = NULL;
        int n = tok_encode(m->tok, prompt, strlen(prompt), true, true, &ids);
        llama_state *s = llama_state_new(m, n + 10, 512);
        int32_t out[10];
        int got = generate_greedy(m, s, ids, n, 10, out, NULL);
        char *text = tok_decode(m->tok, out, got, false);
        printf("  passkey %d at depth %.0f%% of %d tokens -> \"%s\"\n", keys[i], depth[i] * 100, n, text);
        CHECK(n > 1000 && n < 1200, "prompt has %d tokens", n);
        CHECK(passkey_score(text, keys[i]) == 1, "passkey %d not retrieved: \"%s\"", keys[i], text);
        dam_free(text);
        dam_free(ids);
        dam_free(prompt);
        llama_state_free(s);
    }
    llama_free(m);
    return test_done("passkey");
}
