/* test_prompts_golden.c — every seeded prompt generator rebuilds the same token ids bit for bit:
 * workload_build at seed 1234 for passkey, niah, niah_multi and longeval_lines (generate) gives
 * the committed SHA-256 of each example's ids, and each prompt's length is within 1% below the
 * requested length (exact for niah / niah_multi, which are assembled in token space; passkey and
 * longeval_lines fit whole filler characters / whole lines by binary search). The hashes were
 * recorded once after reading the decoded prompts (tests/test_passkey.c, test_niah.c and
 * test_longeval.c check their text against the upstream formats); a change to a template, the
 * tokenizer, the RNG streams or the fitting rule changes them and fails here. Needs data/ (`make
 * data`): the PG essays and the wonderwords lists. */
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "datasets/workload.h"
#include "model/llama.h"
#include "test.h"

typedef struct {
    const char *task;
    int length;
    double depth;
    const char *sha256; /* of the ids, int32 little-endian */
} golden;

static const golden GOLDEN[] = {
    {"passkey", 2048, 0.25,
     "21a0d8400b38e184f0ce886e478f22549b6347c219ae12797afbb65b37e1bfea"},
    {"passkey", 4096, 0.75,
     "20eb0420cc3c1c1b50c45fb508c8af3ca29feb6052f4df802fcaade4e9679c89"},
    {"niah", 2048, 0.25,
     "80fb03fdeb4b1f40cb3d328457c126733627f40fcaec54591c85caddbfe3da48"},
    {"niah", 4096, 0.75,
     "783fd989982721c32f97e84eaeb44aeac8f3e04077c4515975a741524642bdf7"},
    {"niah_multi", 2048, 0.25,
     "15659ad835c86bbb533aa5059b63650d16da272e30ed5224f08ed7b4831521de"},
    {"niah_multi", 4096, 0.75,
     "7399ae33ae27c7ba2948a82285a1e674053b1b139edd884e1bf7882ce3498e97"},
    {"longeval_lines", 2048, 0.25,
     "93ff82328b565558c708b01a6f9c5722f165c1d88ee20dd06069d5dbb7f85f38"},
    {"longeval_lines", 4096, 0.75,
     "0490c7556863a49f015080a0b75152fc084bfbadfdaa1703327c4eb167940fc0"},
};

int main(void) {
    llama_model *m = llama_load("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    const int n_golden = (int)(sizeof GOLDEN / sizeof GOLDEN[0]);
    char *names[3] = {"Figs", "Prosciutto", "Goat cheese"};
    for (int g = 0; g < n_golden; g += 2) {
        int lengths[2] = {GOLDEN[g].length, GOLDEN[g + 1].length};
        double depths[2] = {GOLDEN[g].depth, GOLDEN[g + 1].depth};
        workload_cfg w = {0};
        w.task = (char *)GOLDEN[g].task;
        w.n_lengths = 2, w.lengths = lengths, w.n_depths = 2, w.depths = depths, w.samples = 1, w.max_new_tokens = 8;
        w.haystack_dir = "data/pg_essays";
        w.n_needles = 3, w.needles = names;
        w.source = "generate", w.prompt = "completion", w.words_dir = "data/wordlists/wonderwords";
        example *ex;
        int n_ex;
        workload_build(&w, m, 1234, &ex, &n_ex);
        CHECK(n_ex == 4, "%s: %d examples", w.task, n_ex);
        /* examples are in (length, depth) order: the golden pairs are (len0, depth0) and (len1, depth1) */
        for (int k = 0; k < 2 && n_ex == 4; k++) {
            const example *e = &ex[k * 3];
            const golden *want = &GOLDEN[g + k];
            printf("  %-15s L=%d depth %.2f: %d tokens, ids %s\n", want->task, want->length, want->depth, e->n, e->rec.ids_sha256);
            CHECK(e->n <= want->length && e->n >= want->length - want->length / 100, "%s L=%d: %d tokens", want->task, want->length, e->n);
            if (strcmp(want->task, "niah") == 0 || strcmp(want->task, "niah_multi") == 0)
                CHECK(e->n == want->length, "%s: exact length", want->task);
            CHECK(strcmp(e->rec.ids_sha256, want->sha256) == 0, "%s L=%d depth %.2f: ids %s, golden %s", want->task, want->length,
                  want->depth, e->rec.ids_sha256, want->sha256);
        }
        for (int i = 0; i < n_ex; i++) example_free(&ex[i]);
        dam_free(ex);
    }
    llama_free(m);
    return test_done("prompts_golden");
}
