/* passkey.c — see passkey.h. */
#include "datasets/passkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/mem.h"

static const char *GARBAGE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
enum { GARBAGE_REPEATS = 2000 };

int passkey_max_garbage(void) { return (int)(strlen(GARBAGE) + 1) * GARBAGE_REPEATS - 1; }

/* Copies the first n characters of G_inf to dst. */
static char *put_filler(char *dst, int n) {
    const int g = (int)strlen(GARBAGE);
    for (int i = 0; i < n; i++) {
        int k = i % (g + 1);
        *dst++ = k < g ? GARBAGE[k] : ' ';
    }
    return dst;
}

char *passkey_prompt(int key, int n_garbage, int n_prefix) {
    if (n_garbage < 0 || n_garbage > passkey_max_garbage() || n_prefix < 0 || n_prefix > n_garbage)
        dam_die(DAM_EXIT_INPUT, "passkey: need 0 <= n_prefix (%d) <= n_garbage (%d) <= %d", n_prefix, n_garbage,
                passkey_max_garbage());
    const char *task = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. "
                       "I will quiz you about the important information there.";
    const char *question = "What is the pass key? The pass key is";
    char keyline[128];
    snprintf(keyline, sizeof keyline, "The pass key is %d. Remember it. %d is the pass key.", key, key);
    size_t n = strlen(task) + strlen(keyline) + strlen(question) + (size_t)n_garbage + 8;
    char *out = dam_malloc(n, "passkey prompt"), *p = out;
    p += sprintf(p, "%s\n", task);
    p = put_filler(p, n_prefix);
    p += sprintf(p, "\n%s\n", keyline);
    p = put_filler(p, n_garbage - n_prefix);
    sprintf(p, "\n%s", question);
    return out;
}

int passkey_score(const char *output, int key) {
    const char *p = output;
    while (*p && (*p < '0' || *p > '9')) p++;
    if (*p == 0) return 0;
    const char *q = p;
    while (*q >= '0' && *q <= '9') q++;
    char want[32];
    int len = snprintf(want, sizeof want, "%d", key);
    return (q - p) == len && memcmp(p, want, (size_t)len) == 0;
}
