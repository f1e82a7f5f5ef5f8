/* workload.c — see workload.h: the (length × depth × sample) grid, seeded choices, token-length
 * fitting, and dispatch to the tasks (datasets/passkey.c, datasets/niah.c, datasets/longeval.c,
 * datasets/longdoc.c). */
#include "datasets/workload.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/hash.h"
#include "core/mem.h"
#include "core/rng.h"
#include "datasets/longdoc.h"
#include "datasets/longeval.h"
#include "datasets/niah.h"
#include "datasets/passkey.h"
#include "datasets/ruler.h"

void ids_sha256(const int32_t *ids, int n, char hex[65]) {
    /* int32 little-endian: the in-memory layout on every supported (x86-64, arm64) host */
    sha256_hex(ids, sizeof(int32_t) * (size_t)n, hex);
}

static int32_t *encode(const tokenizer *t, const char *s, bool add_special, int *n) {
    int32_t *ids = NULL;
    *n = tok_encode(t, s, strlen(s), add_special, false, &ids);
    return ids;
}

/* Passkey prompt of at most `length` tokens: the largest filler (in characters) that fits, found
 * by binary search on the tokenised prompt, with the key at `depth` of the filler. */
static int32_t *passkey_fit(const tokenizer *t, int key, int length, double depth, int *n) {
    int lo = 0, hi = passkey_max_garbage();
    int32_t *best = NULL;
    int n_best = 0;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, m;
        char *p = passkey_prompt(key, mid, (int)(mid * depth));
        int32_t *ids = encode(t, p, true, &m);
        dam_free(p);
        if (m <= length) {
            dam_free(best);
            best = ids, n_best = m, lo = mid + 1;
        } else {
            dam_free(ids);
            hi = mid - 1;
        }
    }
    if (best == NULL) dam_die(DAM_EXIT_INPUT, "passkey: length %d is too small for the prompt template", length);
    if (n_best < length - 64)
        dam_die(DAM_EXIT_INPUT, "passkey: length %d exceeds the longest passkey prompt (%d tokens)", length, n_best);
    *n = n_best;
    return best;
}

void example_set_refs(example *e, char **refs, int n_refs) {
    json_t *arr = json_array();
    for (int i = 0; i < n_refs; i++) json_array_append_new(arr, json_string(refs[i]));
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (text == NULL) dam_die(DAM_EXIT_INPUT, "%s #%d: a reference answer is not valid UTF-8", e->rec.task, e->rec.index);
    dam_free(e->rec.answer);
    e->rec.answer = dam_strdup(text, "answer");
    free(text);
    e->refs = refs, e->n_refs = n_refs;
}

void workload_build(const workload_cfg *w, const llama_model *m, uint64_t seed, example **out, int *n_out) {
    if (strncmp(w->task, "longeval_", 9) == 0) {
        longeval_build(w, m, seed, out, n_out);
        return;
    }
    if (strcmp(w->task, "longbench") == 0 || strcmp(w->task, "lveval") == 0) { /* read from files: no seed */
        longdoc_build(w, m, out, n_out);
        return;
    }
    if (strcmp(w->task, "ruler") == 0) {
        ruler_build(w, m, seed, out, n_out);
        return;
    }
    const bool is_passkey = strcmp(w->task, "passkey") == 0, is_niah = strcmp(w->task, "niah") == 0;
    const bool is_multi = strcmp(w->task, "niah_multi") == 0;
    if (!is_passkey && !is_niah && !is_multi)
        dam_die(DAM_EXIT_INPUT, "workload task \"%s\" is not supported (passkey, niah, niah_multi, longeval_lines, longeval_topics, longbench, lveval, ruler)", w->task);
    int total = w->n_lengths * w->n_depths * w->samples;
    example *ex = dam_calloc(total ? total : 1, sizeof(example), "examples");
    niah_haystack *hay = NULL;
    if (is_niah || is_multi) {
        int longest = 0;
        for (int i = 0; i < w->n_lengths; i++) longest = w->lengths[i] > longest ? w->lengths[i] : longest;
        hay = niah_haystack_load(m->tok, w->haystack_dir, longest);
    }
    uint64_t task_stream = 0;
    for (const char *c = w->task; *c; c++) task_stream = task_stream * 131 + (unsigned char)*c;
    int idx = 0;
    for (int li = 0; li < w->n_lengths; li++)
        for (int di = 0; di < w->n_depths; di++)
            for (int s = 0; s < w->samples; s++, idx++) {
                example *e = &ex[idx];
                rng_t rng = rng_seed(seed, task_stream * 1000003u + (uint64_t)idx);
                e->rec.task = dam_strdup(w->task, "task");
                e->rec.index = idx;
                e->rec.target_len = w->lengths[li];
                e->rec.depth = w->depths[di];
                e->rec.sample = s;
                e->max_new = w->max_new_tokens;
                char answer[64];
                if (is_passkey) {
                    int key = (int)rng_range(&rng, 1, 50000);
                    e->ids = passkey_fit(m->tok, key, w->lengths[li], w->depths[di], &e->n);
                    snprintf(answer, sizeof answer, "%d", key);
                    e->rec.answer = dam_strdup(answer, "answer");
                    snprintf(answer, sizeof answer, " %d", key);
                    e->answer_ids = encode(m->tok, answer, false, &e->n_answer);
                } else if (is_multi) {
                    int *pos = dam_malloc(sizeof(int) * w->n_needles, "needle positions");
                    e->ids = niah_multi_prompt(m->tok, hay, w->lengths[li], w->depths[di], (const char *const *)w->needles,
                                               w->n_needles, &e->n, pos);
                    dam_free(pos);
                    char **names = dam_malloc(sizeof(char *) * (size_t)w->n_needles, "references");
                    for (int k = 0; k < w->n_needles; k++) names[k] = dam_strdup(w->needles[k], "reference");
                    example_set_refs(e, names, w->n_needles);
                    char *gold = niah_multi_answer((const char *const *)w->needles, w->n_needles);
                    e->answer_ids = encode(m->tok, gold, false, &e->n_answer);
                    dam_free(gold);
                } else {
                    int needle_pos;
                    e->ids = niah_prompt(m->tok, hay, w->lengths[li], w->depths[di], &e->n, &needle_pos);
                    e->rec.answer = dam_strdup(niah_answer(), "answer");
                    e->answer_ids = encode(m->tok, niah_answer(), false, &e->n_answer);
                }
                e->rec.n_tokens = e->n;
                ids_sha256(e->ids, e->n, e->rec.ids_sha256);
            }
    niah_haystack_free(hay);
    *out = ex;
    *n_out = total;
}

double workload_score(const example *e, const char *prediction) {
    if (strcmp(e->rec.task, "passkey") == 0) return passkey_score(prediction, atoi(e->rec.answer));
    if (strncmp(e->rec.task, "longeval_", 9) == 0) return longeval_score(e, prediction);
    if (strcmp(e->rec.task, "niah_multi") == 0) return niah_multi_score(prediction, (const char *const *)e->refs, e->n_refs);
    if (longdoc_is_task(e->rec.task)) return longdoc_score(e, prediction);
    if (ruler_is_task(e->rec.task)) return ruler_score(e, prediction);
    return niah_score(prediction);
}

void example_free(example *e) {
    example_record_free(&e->rec);
    dam_free(e->ids);
    dam_free(e->answer_ids);
    e->ids = e->answer_ids = NULL;
    for (int i = 0; i < e->n_others; i++) dam_free(e->others[i]);
    dam_free(e->others);
    e->others = NULL, e->n_others = 0;
    for (int i = 0; i < e->n_refs; i++) dam_free(e->refs[i]);
    dam_free(e->refs);
    e->refs = NULL, e->n_refs = 0;
}
