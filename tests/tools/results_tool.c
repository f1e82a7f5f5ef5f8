/* results_tool.c — test helper for tests/t_results_cli.sh and tests/t_results_crash.sh (not a
 * self-checking test; built by `make` as $(BUILD)/tests/tools/results_tool).
 *
 *   results_tool synth OUT.h5 [--drop X] [--nll-up X] [--disjoint] [--n N]
 *       Writes a synthetic results file: tasks passkey and niah (N examples each, default 20, at
 *       target lengths 1024 and 2048), methods full, dam, streaming. full scores 1 everywhere
 *       except niah at 2048 tokens (0.25: an 'uninformative' cell); dam scores full − X (default
 *       0); streaming scores full − 0.002. --nll-up X adds X to dam's answer NLL. --disjoint gives
 *       full the even examples only and dam the odd ones (no common example).
 *   results_tool crash OUT.h5 [--every K] [--max N]
 *       The run loop's persistence, endlessly: resumes OUT.h5.journal if it exists (else creates
 *       it), appends examples and results (3 methods, 24 layers x 16 heads of alignment, values a
 *       function of (method, task, index)) and publishes OUT.h5 every K results (default 6),
 *       until N results (default 1000000). Meant to be killed with SIGKILL at random moments.
 *   results_tool set-schema OUT.h5 VERSION
 *       Replaces the root attribute schema_version of an existing results file with VERSION (a
 *       variable-length string, as the writer stores it): files of a future or past schema for the
 *       readers' version checks.
 *   results_tool verify OUT.h5
 *       Loads OUT.h5.journal (a torn last line allowed) and, if present, OUT.h5; checks that every
 *       record in both equals what `crash` generates for it and that OUT.h5 holds no result the
 *       journal lacks. Prints "journal R results E examples torn T | h5 R' results" and exits 0,
 *       or 1 on a mismatch (2 if a file cannot be read). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "core/error.h"
#include "core/mem.h"
#include "harness/journal.h"
#include "harness/results_h5.h"

static const char *TASKS[2] = {"passkey", "niah"};
static const char *METHODS[3] = {"full", "dam", "streaming"};

static void set_meta(run_data *d, int layers, int heads) {
    d->harness_version = dam_strdup("0.1.0-test", "t");
    d->git_revision = dam_strdup("test", "t");
    d->config_json = dam_strdup("{\"model\": \"synthetic\", \"methods\": [\"full\", \"dam\", \"streaming\"]}", "t");
    d->host = dam_strdup("testhost", "t");
    d->device = dam_strdup("cpu", "t");
    d->cuda_version = dam_strdup("none", "t");
    d->driver_version = dam_strdup("none", "t");
    d->start_time = dam_strdup("2025-01-31T12:00:00Z", "t");
    d->end_time = dam_strdup("", "t");
    d->seed = 42;
    d->model = (model_info){dam_strdup("synthetic", "t"), dam_strdup("llama", "t"), layers, heads, heads / 4, 64, 8192, 10000.0,
                            dam_strdup("00000000000000000000000000000000000000000000000000000000000000ff", "t"), dam_strdup("f32", "t"),
                            dam_strdup("gguf", "t"), 64 * heads, 1000, 0, NAN, dam_strdup("none", "t"), layers,
                            dam_malloc(sizeof(int) * (size_t)layers, "t")};
    for (int l = 0; l < layers; l++) d->model.global_layers[l] = l;
    for (int m = 0; m < 3; m++) run_data_add_method_all_layers(d, METHODS[m], layers);
}

/* A value in [0, 1) determined by its arguments (splitmix64). */
static double h01(uint64_t a, uint64_t b, uint64_t c, uint64_t k) {
    uint64_t z = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull ^ (c << 20) ^ (k << 40);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static void make_example(int t, int i, example_record *e, char *answer, size_t alen) {
    memset(e, 0, sizeof *e);
    e->task = (char *)TASKS[t];
    e->index = i;
    e->target_len = i % 2 ? 2048 : 1024;
    e->n_tokens = e->target_len - 1 - i % 3;
    e->depth = (i % 5) * 0.25;
    e->sample = i / 10;
    snprintf(answer, alen, "key %d, \"v\"", 1000 + i);
    e->answer = answer;
    snprintf(e->ids_sha256, sizeof e->ids_sha256, "%064llx", (unsigned long long)(1000003ull * (unsigned)(t + 1) + (unsigned)i));
}

/* The crash loop's result for (m, t, i) with L x H alignment (arrays into al / de). */
static void make_result(int m, int t, int i, int L, int H, result_record *r, char *pred, size_t plen, float *al, float *de) {
    memset(r, 0, sizeof *r);
    r->method = (char *)METHODS[m];
    r->task = (char *)TASKS[t];
    r->index = i;
    r->score = h01(m, t, i, 1) < 0.8 ? 1.0 : 0.0;
    snprintf(pred, plen, "pred %d/%d/%d", m, t, i);
    r->prediction = pred;
    r->answer_nll = h01(m, t, i, 2) * 2;
    r->logit_kl = m == 0 ? 0.0 : h01(m, t, i, 3) * 0.1;
    r->prefill_ms = 5 + h01(m, t, i, 4) * 50;
    r->mask_ms = m == 0 ? 0.0 : h01(m, t, i, 5);
    r->decode_ms = h01(m, t, i, 6) * 3;
    r->n_generated = 1 + i % 7;
    r->peak_bytes = 1e8 + 4096.0 * i;
    r->kv_bytes = 65536.0 * (i + 1);
    r->density = m == 0 ? 1.0 : 0.05 + 0.1 * h01(m, t, i, 7);
    r->n_layers = L;
    r->n_heads = H;
    for (int k = 0; k < L * H * ALIGN_N_METRICS; k++) al[k] = k % 97 == 5 ? NAN : (float)h01(m, t, i, 100 + (uint64_t)k);
    for (int k = 0; k < L * H; k++) de[k] = (float)h01(m, t, i, 1000000 + (uint64_t)k);
    r->alignment = al;
    r->head_density = de;
}

static int synth(const char *out, int argc, char **argv) {
    double drop = 0, nll_up = 0;
    int disjoint = 0, n = 20, no_decode = 0, alter_pred = 0, alter_ids = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--drop") == 0 && i + 1 < argc) drop = atof(argv[++i]);
        else if (strcmp(argv[i], "--nll-up") == 0 && i + 1 < argc) nll_up = atof(argv[++i]);
        else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--disjoint") == 0) disjoint = 1;
        else if (strcmp(argv[i], "--no-decode") == 0) no_decode = 1; /* every generation one token long */
        else if (strcmp(argv[i], "--alter-pred") == 0) alter_pred = 1; /* method 2's predictions change at even indices */
        else if (strcmp(argv[i], "--alter-ids") == 0) alter_ids = 1;   /* every prompt's ids_sha256 changes */
        else dam_die(2, "results_tool synth: unknown argument %s", argv[i]);
    }
    enum { L = 2, H = 2 };
    run_data d;
    run_data_init(&d);
    set_meta(&d, L, H);
    dam_free(d.end_time);
    d.end_time = dam_strdup("2025-01-31T12:30:00Z", "t");
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < n; i++) {
            example_record e;
            char ans[64];
            make_example(t, i, &e, ans, sizeof ans);
            if (alter_ids) e.ids_sha256[0] = 'f';
            run_data_add_example(&d, &e);
            for (int m = 0; m < 3; m++) {
                if (disjoint && ((m == 0 && i % 2) || (m == 1 && i % 2 == 0))) continue;
                result_record r;
                char pred[64];
                float al[L * H * ALIGN_N_METRICS], de[L * H];
                make_result(m, t, i, L, H, &r, pred, sizeof pred, al, de);
                if (alter_pred && m == 2 && i % 2 == 0) strcat(pred, " (altered)");
                double full = (t == 1 && e.target_len == 2048) ? 0.25 : 1.0;
                r.score = m == 0 ? full : m == 1 ? full - drop : full - 0.002;
                if (r.score < 0) r.score = 0;
                r.answer_nll = 0.5 + (m == 1 ? nll_up : 0);
                if (no_decode) r.decode_ms = 0, r.n_generated = 1;
                for (int k = 0; k < L * H * ALIGN_N_METRICS; k++) al[k] = m == 0 ? 1.0f : 0.9f;
                run_data_add_result(&d, &r);
            }
        }
    results_write_h5(out, &d);
    run_data_free(&d);
    return 0;
}

enum { CL = 24, CH = 16 };

static int crash(const char *out, int argc, char **argv) {
    int every = 6;
    long max = 1000000;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--every") == 0 && i + 1 < argc) every = atoi(argv[++i]);
        else if (strcmp(argv[i], "--max") == 0 && i + 1 < argc) max = atol(argv[++i]);
        else dam_die(2, "results_tool crash: unknown argument %s", argv[i]);
    }
    char *jp = journal_path(out);
    run_data cur, d;
    run_data_init(&cur);
    set_meta(&cur, CL, CH);
    journal *j;
    if (access(jp, F_OK) == 0) j = journal_resume(jp, &cur, &d);
    else {
        run_data_init(&d);
        run_data_copy_meta(&d, &cur);
        j = journal_create(jp, &d);
    }
    static float al[CL * CH * ALIGN_N_METRICS], de[CL * CH];
    long since = 0;
    for (long e = 0; d.n_results < max; e++) {
        int t = (int)(e % 2), i = (int)(e / 2);
        if (!journal_has_example(&d, TASKS[t], i)) {
            example_record ex;
            char ans[64];
            make_example(t, i, &ex, ans, sizeof ans);
            journal_append_example(j, &ex);
            run_data_add_example(&d, &ex);
        }
        for (int m = 0; m < 3; m++) {
            if (journal_has_result(&d, METHODS[m], TASKS[t], i)) continue;
            result_record r;
            char pred[64];
            make_result(m, t, i, CL, CH, &r, pred, sizeof pred, al, de);
            journal_append_result(j, &r);
            run_data_add_result(&d, &r);
            if (++since >= every) {
                char now[32];
                results_utc_now(now);
                dam_free(d.end_time);
                d.end_time = dam_strdup(now, "t");
                results_write_h5(out, &d);
                since = 0;
            }
        }
    }
    journal_close(j);
    results_write_h5(out, &d);
    dam_free(jp);
    run_data_free(&d);
    run_data_free(&cur);
    return 0;
}

static bool same_f(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

/* Does r equal what `crash` generates for it? */
static bool result_ok(const result_record *r) {
    int m = 0, t = 0;
    while (m < 3 && strcmp(METHODS[m], r->method)) m++;
    while (t < 2 && strcmp(TASKS[t], r->task)) t++;
    if (m == 3 || t == 2 || r->n_layers != CL || r->n_heads != CH) return false;
    static float al[CL * CH * ALIGN_N_METRICS], de[CL * CH];
    result_record g;
    char pred[64];
    make_result(m, t, r->index, CL, CH, &g, pred, sizeof pred, al, de);
    if (!(same_f(g.score, r->score) && strcmp(g.prediction, r->prediction) == 0 && same_f(g.answer_nll, r->answer_nll) &&
          same_f(g.logit_kl, r->logit_kl) && same_f(g.prefill_ms, r->prefill_ms) && same_f(g.mask_ms, r->mask_ms) &&
          same_f(g.decode_ms, r->decode_ms) && g.n_generated == r->n_generated && same_f(g.peak_bytes, r->peak_bytes) &&
          same_f(g.kv_bytes, r->kv_bytes) && same_f(g.density, r->density)))
        return false;
    for (int k = 0; k < CL * CH * ALIGN_N_METRICS; k++) if (!same_f(al[k], r->alignment[k])) return false;
    for (int k = 0; k < CL * CH; k++) if (!same_f(de[k], r->head_density[k])) return false;
    return true;
}

static bool example_ok(const example_record *e) {
    int t = 0;
    while (t < 2 && strcmp(TASKS[t], e->task)) t++;
    if (t == 2) return false;
    example_record g;
    char ans[64];
    make_example(t, e->index, &g, ans, sizeof ans);
    return g.target_len == e->target_len && g.n_tokens == e->n_tokens && g.depth == e->depth && g.sample == e->sample &&
           strcmp(g.answer, e->answer) == 0 && strcmp(g.ids_sha256, e->ids_sha256) == 0;
}

static int verify(const char *out) {
    char *jp = journal_path(out);
    run_data jd, hd;
    journal_read(jp, &jd);
    struct stat st;
    int torn = 0;
    FILE *fp = fopen(jp, "rb");
    if (fp && stat(jp, &st) == 0 && st.st_size > 0) {
        fseek(fp, -1, SEEK_END);
        torn = fgetc(fp) != '\n';
    }
    if (fp) fclose(fp);
    int bad = 0;
    for (int i = 0; i < jd.n_examples; i++) if (!example_ok(&jd.examples[i])) { fprintf(stderr, "verify: journal example %d differs\n", i); bad++; }
    for (int i = 0; i < jd.n_results; i++) if (!result_ok(&jd.results[i])) { fprintf(stderr, "verify: journal result %d differs\n", i); bad++; }
    int h5_results = -1;
    if (access(out, F_OK) == 0) {
        results_read_h5(out, &hd);
        h5_results = hd.n_results;
        for (int i = 0; i < hd.n_examples; i++) if (!example_ok(&hd.examples[i]) || !journal_has_example(&jd, hd.examples[i].task, hd.examples[i].index)) { fprintf(stderr, "verify: h5 example %d differs or is not in the journal\n", i); bad++; }
        for (int i = 0; i < hd.n_results; i++) {
            const result_record *r = &hd.results[i];
            if (!result_ok(r) || !journal_has_result(&jd, r->method, r->task, r->index)) { fprintf(stderr, "verify: h5 result %d differs or is not in the journal\n", i); bad++; }
        }
        run_data_free(&hd);
    }
    printf("journal %d results %d examples torn %d | h5 %d results\n", jd.n_results, jd.n_examples, torn, h5_results);
    run_data_free(&jd);
    dam_free(jp);
    return bad ? 1 : 0;
}

static int set_schema(const char *path, const char *version) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) dam_die(2, "%s: cannot open for writing", path);
    if (H5Aexists(f, "schema_version") > 0 && H5Adelete(f, "schema_version") < 0) dam_die(2, "%s: cannot delete schema_version", path);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "schema_version", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, t, &version) < 0) dam_die(2, "%s: cannot write schema_version", path);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) dam_die(2, "usage: results_tool synth|crash|verify|set-schema OUT.h5 [options]");
    if (strcmp(argv[1], "synth") == 0) return synth(argv[2], argc - 3, argv + 3);
    if (strcmp(argv[1], "crash") == 0) return crash(argv[2], argc - 3, argv + 3);
    if (strcmp(argv[1], "verify") == 0) return verify(argv[2]);
    if (strcmp(argv[1], "set-schema") == 0 && argc == 4) return set_schema(argv[2], argv[3]);
    dam_die(2, "results_tool: unknown mode %s", argv[1]);
}
