/* test_results.c — the persistence layer of `dam run`: journal round trip (NaN and infinity
 * included), a torn last line (dropped, and removed on resume), a corrupt middle line and a
 * mismatched resume header (exit 2, checked in forked children), the HDF5 results file round trip
 * field by field, schema_version, reproducible bytes, an unknown major version and a missing
 * dataset (exit 2), a full disk while publishing or appending (exit 3, previous file intact), the
 * DAM masks (/patterns: round trip with per-head PCL and parameters, identical records as one hard
 * link, damaged masks refused, a changed pattern file refused on resume), and the Wilson interval
 * / median against hand-computed values.
 * Run: make build/tests/test_results && build/tests/test_results */
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/mem.h"
#include "harness/journal.h"
#include "harness/record.h"
#include "harness/results_h5.h"
#include "harness/stats.h"
#include "test.h"

static char dir[256];

static char *tpath(const char *name) {
    static char buf[128][512]; /* distinct buffers: every path of the test stays valid */
    static int k;
    char *p = buf[k++ % 128];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

/* ---- a synthetic run: 2 tasks x 3 methods, L x H alignment with NaN and infinity cells ---- */

enum { L = 4, H = 3, N_PER_TASK = 5 };
static const char *TASKS[2] = {"passkey", "niah"};
static const char *METHODS[3] = {"full", "dam", "streaming"};

static double rnd(unsigned *s) { *s = *s * 1664525u + 1013904223u; return (*s >> 8) / 16777216.0; }

static void set_meta(run_data *d, const char *config) {
    d->harness_version = dam_strdup("0.1.0", "t");
    d->git_revision = dam_strdup("abc1234-dirty", "t");
    d->config_json = dam_strdup(config, "t");
    d->host = dam_strdup("testhost", "t");
    d->device = dam_strdup("cpu", "t");
    d->cuda_version = dam_strdup("none", "t");
    d->driver_version = dam_strdup("none", "t");
    d->start_time = dam_strdup("2025-01-31T12:00:00Z", "t");
    d->end_time = dam_strdup("", "t");
    d->seed = 18446744073709551557ull; /* above INT64_MAX: the journal writes it as a string */
    /* a Gemma-3-like model: layers 1 and 3 global, 0 and 2 sliding-window */
    int *global = dam_malloc(2 * sizeof(int), "t");
    global[0] = 1, global[1] = 3;
    d->model = (model_info){dam_strdup("smollm2-135m", "t"), dam_strdup("gemma3", "t"), L, H, 1, 64, 8192, 100000.0,
                            dam_strdup("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "t"),
                            dam_strdup("Q4_1", "t"), dam_strdup("gguf", "t"), 640, 262144, 512, 10000.0,
                            dam_strdup("none", "t"), 2, global};
    run_data_add_method_all_layers(d, "full", L);
    int dam_layers[2] = {2, 3};
    run_data_add_method(d, "dam", 2, dam_layers);
    run_data_add_method_all_layers(d, "streaming", L);
}

static const char *CONFIG = "{\"model\": \"smollm2-135m\", \"methods\": [{\"method\": \"full\"}, {\"method\": \"dam\", \"tau\": 0.1}]}";

/* Fills d with metadata, 2 x N_PER_TASK examples and 3 x 2 x N_PER_TASK results. score_drop lowers
 * every dam score by that much (for the check tests). */
static void build_run(run_data *d, unsigned seed) {
    run_data_init(d);
    set_meta(d, CONFIG);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < N_PER_TASK; i++) {
            example_record e = {0};
            e.task = (char *)TASKS[t];
            e.index = i;
            e.target_len = 1024 << (i % 2);
            e.n_tokens = e.target_len - 3 + i;
            e.n_truncated = t == 1 ? 7 * i : 0;
            e.depth = t == 0 ? 0.25 * i : -1;
            e.sample = i / 2;
            char ans[64];
            snprintf(ans, sizeof ans, "answer %d, \"quoted\" \xc3\xa9", 4000 + i);
            e.answer = ans;
            snprintf(e.ids_sha256, sizeof e.ids_sha256, "%064x", 0xabc + i);
            run_data_add_example(d, &e);
        }
    unsigned s = seed;
    /* results deliberately added in an order other than the canonical one */
    for (int m = 2; m >= 0; m--)
        for (int t = 0; t < 2; t++)
            for (int i = N_PER_TASK - 1; i >= 0; i--) {
                result_record r = {0};
                r.method = (char *)METHODS[m];
                r.task = (char *)TASKS[t];
                r.index = i;
                r.score = (i + m) % 3 == 0 ? 0.0 : 1.0;
                char pred[64];
                snprintf(pred, sizeof pred, "pred %d,%d\nline \"two\"", m, i);
                r.prediction = pred;
                r.answer_nll = (m == 1 && i == 0) ? NAN : rnd(&s) * 3;
                r.logit_kl = m == 0 ? 0.0 : rnd(&s) * 0.1;
                r.prefill_ms = 10 + rnd(&s) * 100;
                r.mask_ms = m == 0 ? 0.0 : rnd(&s);
                r.decode_ms = rnd(&s) * 5;
                r.n_generated = 1 + i;
                r.peak_bytes = 1e8 + 4096.0 * i;
                r.kv_bytes = 786432.0 * (i + 1);
                r.density = m == 0 ? 1.0 : 0.1 + 0.1 * rnd(&s);
                r.n_layers = L;
                r.n_heads = H;
                float al[L * H * ALIGN_N_METRICS], de[L * H];
                for (int k = 0; k < L * H * ALIGN_N_METRICS; k++) al[k] = (float)rnd(&s);
                for (int k = 0; k < L * H; k++) de[k] = (float)(0.5 * rnd(&s));
                al[3] = NAN;                                   /* layer 0 head 0 tail_out_cos not measured */
                al[(L * H - 1) * ALIGN_N_METRICS + 5] = NAN;   /* last cell spread_neg_log_recall */
                al[ALIGN_N_METRICS + ALIGN_TAIL_NEG_LOG_RECALL] = INFINITY; /* recall 0 -> -log 0 */
                al[7] = 1.0f / 3.0f;
                r.alignment = al;
                r.head_density = de;
                run_data_add_result(d, &r);
            }
}

static bool feq(double a, double b) { return a == b || (isnan(a) && isnan(b)); }
static bool seq(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

/* Field-by-field equality of two runs in canonical order. */
static void check_same(const run_data *a, const run_data *b, bool end_time_too, const char *what) {
    CHECK(seq(a->harness_version, b->harness_version) && seq(a->git_revision, b->git_revision) &&
          seq(a->config_json, b->config_json) && seq(a->host, b->host) && seq(a->device, b->device) &&
          seq(a->cuda_version, b->cuda_version) && seq(a->driver_version, b->driver_version) &&
          seq(a->start_time, b->start_time), "%s: run metadata differs", what);
    if (end_time_too) CHECK(seq(a->end_time, b->end_time), "%s: end_time %s vs %s", what, a->end_time, b->end_time);
    CHECK(a->seed == b->seed, "%s: seed %llu vs %llu", what, (unsigned long long)a->seed, (unsigned long long)b->seed);
    const model_info *x = &a->model, *y = &b->model;
    CHECK(seq(x->name, y->name) && seq(x->architecture, y->architecture) && x->n_layers == y->n_layers &&
          x->n_heads == y->n_heads && x->n_kv_heads == y->n_kv_heads && x->head_dim == y->head_dim &&
          x->context_length == y->context_length && x->rope_theta == y->rope_theta &&
          seq(x->file_sha256, y->file_sha256) && seq(x->quantisation, y->quantisation), "%s: model differs", what);
    CHECK(seq(x->format, y->format) && x->d_model == y->d_model && x->vocab == y->vocab &&
          x->sliding_window == y->sliding_window && x->rope_theta_swa == y->rope_theta_swa &&
          seq(x->rope_scaling, y->rope_scaling) && x->n_global == y->n_global &&
          (x->n_global == 0 || memcmp(x->global_layers, y->global_layers, sizeof(int) * (size_t)x->n_global) == 0),
          "%s: model facts (schema 1.2) differ", what);
    CHECK(a->n_methods == b->n_methods, "%s: %d vs %d methods", what, a->n_methods, b->n_methods);
    for (int m = 0; m < a->n_methods && m < b->n_methods; m++) {
        const method_info *p = &a->methods[m], *q = &b->methods[m];
        CHECK(seq(p->name, q->name) && p->n_layers == q->n_layers &&
              (p->n_layers == 0 || memcmp(p->layers, q->layers, sizeof(int) * (size_t)p->n_layers) == 0),
              "%s: method %d (%s / %s) differs", what, m, p->name, q->name);
    }
    CHECK(a->n_examples == b->n_examples, "%s: %d vs %d examples", what, a->n_examples, b->n_examples);
    for (int i = 0; i < a->n_examples && i < b->n_examples; i++) {
        const example_record *e = &a->examples[i], *f = &b->examples[i];
        CHECK(seq(e->task, f->task) && e->index == f->index && e->target_len == f->target_len && e->n_tokens == f->n_tokens &&
              e->n_truncated == f->n_truncated && feq(e->depth, f->depth) && e->sample == f->sample && seq(e->answer, f->answer) && seq(e->ids_sha256, f->ids_sha256),
              "%s: example %d (%s/%d) differs", what, i, e->task, e->index);
    }
    CHECK(a->n_results == b->n_results, "%s: %d vs %d results", what, a->n_results, b->n_results);
    int bad = 0;
    for (int i = 0; i < a->n_results && i < b->n_results; i++) {
        const result_record *r = &a->results[i], *s = &b->results[i];
        bool ok = seq(r->method, s->method) && seq(r->task, s->task) && r->index == s->index && feq(r->score, s->score) &&
                  seq(r->prediction, s->prediction) && feq(r->answer_nll, s->answer_nll) && feq(r->logit_kl, s->logit_kl) &&
                  feq(r->prefill_ms, s->prefill_ms) && feq(r->mask_ms, s->mask_ms) && feq(r->decode_ms, s->decode_ms) &&
                  r->n_generated == s->n_generated && feq(r->peak_bytes, s->peak_bytes) && feq(r->kv_bytes, s->kv_bytes) &&
                  feq(r->density, s->density) && r->n_layers == s->n_layers && r->n_heads == s->n_heads;
        for (int k = 0; ok && k < r->n_layers * r->n_heads * ALIGN_N_METRICS; k++) ok = feq(r->alignment[k], s->alignment[k]);
        for (int k = 0; ok && k < r->n_layers * r->n_heads; k++) ok = feq(r->head_density[k], s->head_density[k]);
        if (!ok && bad++ < 3) CHECK(ok, "%s: result %d (%s/%s/%d) differs", what, i, r->method, r->task, r->index);
    }
    CHECK(bad == 0, "%s: %d results differ", what, bad);
}

/* Writes a journal of d: header, then every example and result. */
static void write_journal(const char *path, const run_data *d) {
    journal *j = journal_create(path, d);
    for (int i = 0; i < d->n_examples; i++) journal_append_example(j, &d->examples[i]);
    for (int i = 0; i < d->n_results; i++) journal_append_result(j, &d->results[i]);
    journal_close(j);
}

/* Runs fn(arg) in a child with stderr sent to a file; returns the exit status (-signal if killed)
 * and the first stderr line in msg. */
static int in_child(void (*fn)(void *), void *arg, char *msg, size_t len) {
    fflush(stdout);
    fflush(stderr);
    static int nchild;
    char name[32];
    snprintf(name, sizeof name, "child%d.err", nchild++);
    const char *errf = tpath(name);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        fn(arg);
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    msg[0] = 0;
    FILE *fp = fopen(errf, "r");
    if (fp) { if (!fgets(msg, (int)len, fp)) msg[0] = 0; fclose(fp); }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

static void child_read_journal(void *p) { run_data d; journal_read((const char *)p, &d); }
static void child_read_h5(void *p) { run_data d; results_read_h5((const char *)p, &d); }

typedef struct { const char *path; run_data *cur; } resume_arg;
static void child_resume(void *p) {
    resume_arg *a = p;
    run_data d;
    journal_resume(a->path, a->cur, &d);
}

static char *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) { *n = 0; return NULL; }
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = malloc((size_t)sz + 1);
    *n = fread(b, 1, (size_t)sz, fp);
    b[*n] = 0;
    fclose(fp);
    return b;
}

static void spit(const char *path, const char *data, size_t n, const char *mode) {
    FILE *fp = fopen(path, mode);
    fwrite(data, 1, n, fp);
    fclose(fp);
}

static void test_journal(void) {
    run_data d, j;
    build_run(&d, 1);
    run_data_sort(&d);
    const char *jp = tpath("run.h5.journal");
    write_journal(jp, &d);
    journal_read(jp, &j);
    check_same(&d, &j, false, "journal round trip");
    CHECK(j.n_results == 30 && j.n_examples == 10, "journal has %d results, %d examples", j.n_results, j.n_examples);
    CHECK(journal_has_result(&j, "dam", "niah", 3) && !journal_has_result(&j, "dam", "niah", 7) &&
          !journal_has_result(&j, "nope", "niah", 3), "journal_has_result");
    CHECK(journal_has_example(&j, "passkey", 4) && !journal_has_example(&j, "passkey", 5), "journal_has_example");
    run_data_free(&j);
    char *p = journal_path("results/x.h5");
    CHECK(strcmp(p, "results/x.h5.journal") == 0, "journal_path %s", p);
    dam_free(p);

    /* torn last line without a newline, then with one: dropped with a warning */
    size_t n;
    char *orig = slurp(jp, &n);
    const char *torn = "{\"type\":\"result\",\"method\":\"dam\",\"task\":\"ni";
    spit(jp, torn, strlen(torn), "ab");
    journal_read(jp, &j);
    check_same(&d, &j, false, "journal with a torn last line");
    run_data_free(&j);
    spit(jp, orig, n, "wb");
    spit(jp, "{\"type\":\"result\",\"meth\n", 23, "ab");
    journal_read(jp, &j);
    check_same(&d, &j, false, "journal with an unparsable last line");
    run_data_free(&j);

    /* resume: the torn tail is cut, new lines follow a complete one */
    spit(jp, orig, n, "wb");
    spit(jp, torn, strlen(torn), "ab");
    run_data cur;
    run_data_init(&cur);
    set_meta(&cur, "{\"methods\":[{\"method\":\"full\"},{\"tau\":0.1,\"method\":\"dam\"}],\"model\":\"smollm2-135m\"}");
    run_data loaded;
    journal *jr = journal_resume(jp, &cur, &loaded); /* same config, other key order and spacing */
    CHECK(loaded.n_results == 30, "resume loaded %d results", loaded.n_results);
    result_record extra = *run_data_find_result(&d, "dam", "niah", 2);
    extra.score = 0.5;
    journal_append_result(jr, &extra);
    journal_close(jr);
    journal_read(jp, &j);
    const result_record *got = run_data_find_result(&j, "dam", "niah", 2);
    CHECK(j.n_results == 30 && got && got->score == 0.5, "resumed append replaced the result (score %g)", got ? got->score : -1);
    run_data_free(&j);
    run_data_free(&loaded);

    /* a corrupt middle line is an error naming the file and line */
    char msg[512];
    spit(jp, orig, n, "wb");
    char *nl = strchr(strchr(strchr(orig, '\n') + 1, '\n') + 1, '\n'); /* end of line 3 */
    size_t cut = (size_t)(nl - orig);
    char *bad = malloc(n + 32);
    memcpy(bad, orig, cut - 10);
    memcpy(bad + cut - 10, "garbage", 7);
    memcpy(bad + cut - 3, orig + cut, n - cut);
    spit(jp, bad, n - 7, "wb");
    int st = in_child(child_read_journal, (void *)jp, msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, jp) && strstr(msg, ":3: corrupt journal line"), "corrupt middle line: exit %d, \"%s\"", st, msg);
    /* a valid JSON line with a missing field */
    spit(jp, orig, n, "wb");
    spit(jp, "{\"type\":\"example\",\"task\":\"x\"}\n{\"type\":\"example\"}\n", 49, "ab");
    st = in_child(child_read_journal, (void *)jp, msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, ":42: field \"index\""), "missing field: exit %d, \"%s\"", st, msg);
    /* no header */
    spit(jp, "{\"type\":\"header\",\"form", 22, "wb");
    st = in_child(child_read_journal, (void *)jp, msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, "before its header"), "torn header: exit %d, \"%s\"", st, msg);
    st = in_child(child_read_journal, (void *)tpath("missing.journal"), msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, "missing.journal: cannot open"), "missing journal: exit %d, \"%s\"", st, msg);

    /* resume with another config or seed: an error naming the difference */
    spit(jp, orig, n, "wb");
    dam_free(cur.config_json);
    cur.config_json = dam_strdup("{\"model\": \"smollm2-135m\", \"methods\": [{\"method\": \"full\"}, {\"method\": \"dam\", \"tau\": 0.3}]}", "t");
    resume_arg ra = {jp, &cur};
    st = in_child(child_resume, &ra, msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, "config differs") && strstr(msg, "methods[1].tau") && strstr(msg, "journal: 0.1") && strstr(msg, "now: 0.3"),
          "resume, other config: exit %d, \"%s\"", st, msg);
    dam_free(cur.config_json);
    cur.config_json = dam_strdup(CONFIG, "t");
    cur.seed = 7;
    st = in_child(child_resume, &ra, msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, "seed differs"), "resume, other seed: exit %d, \"%s\"", st, msg);
    cur.seed = d.seed;
    cur.methods[1].layers[0] = 1;
    st = in_child(child_resume, &ra, msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, "layers method dam"), "resume, other layers: exit %d, \"%s\"", st, msg);
    free(bad);
    free(orig);
    run_data_free(&cur);
    run_data_free(&d);
}

/* Replaces the root attribute schema_version of an HDF5 file. */
static void set_schema(const char *path, const char *v) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Adelete(f, "schema_version");
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t a = H5Acreate2(f, "schema_version", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, &v);
    H5Aclose(a); H5Sclose(sp); H5Tclose(t); H5Fclose(f);
}

static char *get_schema(const char *path) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "schema_version", H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char *v = NULL;
    H5Aread(a, t, &v);
    char *out = strdup(v ? v : "");
    H5free_memory(v);
    H5Tclose(t); H5Aclose(a); H5Fclose(f);
    return out;
}

typedef struct { const char *path; run_data *d; } write_arg;
static void child_write_small_disk(void *p) {
    write_arg *a = p;
    struct rlimit rl = {16384, 16384}; /* files may not grow past 16 KiB: a full disk */
    setrlimit(RLIMIT_FSIZE, &rl);
    signal(SIGXFSZ, SIG_IGN);
    results_write_h5(a->path, a->d);
}
static void child_append_small_disk(void *p) {
    write_arg *a = p;
    struct stat st;
    stat(a->path, &st);
    struct rlimit rl = {(rlim_t)st.st_size + 1000, (rlim_t)st.st_size + 1000};
    setrlimit(RLIMIT_FSIZE, &rl);
    signal(SIGXFSZ, SIG_IGN);
    journal *j = journal_resume(a->path, a->d, &(run_data){0});
    for (int i = 0; i < a->d->n_results; i++) journal_append_result(j, &a->d->results[i]);
    journal_close(j);
}

static void test_h5(void) {
    run_data d, r;
    build_run(&d, 2);
    dam_free(d.end_time);
    d.end_time = dam_strdup("2025-01-31T13:00:00Z", "t");
    /* a prediction that is not valid UTF-8 (a partial character) is stored with U+FFFD */
    run_data_sort(&d);
    result_record *x = (result_record *)run_data_find_result(&d, "streaming", "niah", 1);
    dam_free(x->prediction);
    x->prediction = dam_strdup("caf\xc3", "t");
    const char *hp = tpath("run.h5");
    results_write_h5(hp, &d);
    CHECK(access(tpath("run.h5.tmp"), F_OK) != 0, "the temporary file is gone after publishing");
    char *sv = get_schema(hp);
    CHECK(strcmp(sv, RESULTS_SCHEMA_VERSION) == 0 && strcmp(sv, "1.2") == 0, "schema_version \"%s\"", sv);
    free(sv);
    results_read_h5(hp, &r);
    x = (result_record *)run_data_find_result(&d, "streaming", "niah", 1);
    dam_free(x->prediction);
    x->prediction = dam_strdup("caf\xef\xbf\xbd", "t");
    check_same(&d, &r, true, "HDF5 round trip");
    const result_record *rr = run_data_find_result(&r, "dam", "passkey", 0);
    CHECK(rr && isnan(rr->answer_nll) && isnan(rr->alignment[3]) && isinf(rr->alignment[ALIGN_N_METRICS + 1]),
          "NaN / infinity cells survive");
    run_data_free(&r);

    /* the journal of the same run rebuilds the same file (what --resume does) */
    write_journal(tpath("run2.h5.journal"), &d);
    run_data j;
    journal_read(tpath("run2.h5.journal"), &j);
    dam_free(j.end_time);
    j.end_time = dam_strdup(d.end_time, "t");
    results_write_h5(tpath("run2.h5"), &j);
    run_data_free(&j);

    /* a journal written before schema 1.1 has no n_truncated fields: they read as 0 */
    {
        size_t len;
        char *t = slurp(tpath("run2.h5.journal"), &len), *o = malloc(len + 1);
        size_t k = 0;
        for (size_t i = 0; i < len;) {
            if (strncmp(t + i, "\"n_truncated\":", 14) == 0) {
                i += 14;
                while (i < len && t[i] != ',' && t[i] != '}') i++;
                if (i < len && t[i] == ',') i++;
                while (i < len && t[i] == ' ') i++;
            } else o[k++] = t[i++];
        }
        o[k] = 0;
        spit(tpath("old.h5.journal"), o, k, "wb");
        CHECK(k < len && !strstr(o, "n_truncated"), "n_truncated fields not removed from the journal copy");
        journal_read(tpath("old.h5.journal"), &j);
        bool zero = j.n_examples == d.n_examples;
        for (int i = 0; i < j.n_examples; i++) zero = zero && j.examples[i].n_truncated == 0;
        CHECK(zero, "a journal without n_truncated: %d examples, not all 0", j.n_examples);
        run_data_free(&j);
        free(t), free(o);
    }

    /* reproducible bytes: no object timestamps */
    sleep(1);
    results_write_h5(tpath("run3.h5"), &d);
    size_t n1, n2, n3;
    char *b1 = slurp(hp, &n1), *b2 = slurp(tpath("run2.h5"), &n2), *b3 = slurp(tpath("run3.h5"), &n3);
    CHECK(n1 == n3 && memcmp(b1, b3, n1) == 0, "two writes of one run a second apart differ (%zu vs %zu bytes)", n1, n3);
    CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0, "the file rebuilt from the journal differs (%zu vs %zu bytes)", n1, n2);
    free(b2);
    free(b3);

    /* a full disk while publishing: exit 3, previous file intact, no temporary left */
    char msg[512];
    write_arg wa = {hp, &d};
    int st = in_child(child_write_small_disk, &wa, msg, sizeof msg);
    CHECK(st == 3 && strstr(msg, "cannot write") && strstr(msg, hp), "full disk: exit %d, \"%s\"", st, msg);
    b2 = slurp(hp, &n2);
    CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0, "the published file changed after a failed write");
    CHECK(access(tpath("run.h5.tmp"), F_OK) != 0, "the temporary file is removed after a failed write");
    free(b2);
    free(b1);
    /* a full disk while appending to the journal: exit 3, the journal still loads */
    const char *jp = tpath("full.h5.journal");
    write_journal(jp, &d);
    write_arg ja = {jp, &d};
    st = in_child(child_append_small_disk, &ja, msg, sizeof msg);
    CHECK(st == 3 && strstr(msg, "cannot append") && strstr(msg, jp), "journal on a full disk: exit %d, \"%s\"", st, msg);
    journal_read(jp, &j);
    CHECK(j.n_results == d.n_results, "journal after a full disk: %d results", j.n_results);
    run_data_free(&j);

    /* errors: unknown major version, newer minor, missing dataset, not HDF5, missing file */
    const char *bp = tpath("bad.h5");
    results_write_h5(bp, &d);
    set_schema(bp, "1.7");
    results_read_h5(bp, &r); /* a newer minor version reads */
    CHECK(r.n_results == d.n_results, "1.7 file read");
    run_data_free(&r);
    set_schema(bp, "2.0");
    st = in_child(child_read_h5, (void *)bp, msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, bp) && strstr(msg, "schema 2.0 is not supported"), "major 2: exit %d, \"%s\"", st, msg);
    set_schema(bp, "one");
    st = in_child(child_read_h5, (void *)bp, msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, "not major.minor"), "bad version: exit %d, \"%s\"", st, msg);
    results_write_h5(bp, &d);
    hid_t f = H5Fopen(bp, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "/runs/dam/niah/score", H5P_DEFAULT);
    H5Fclose(f);
    st = in_child(child_read_h5, (void *)bp, msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, bp) && strstr(msg, "/runs/dam/niah/score: missing"), "missing dataset: exit %d, \"%s\"", st, msg);
    /* a 1.0 file has no n_truncated column (added in 1.1): it reads as 0; a 1.1 file without it is damaged */
    results_write_h5(bp, &d);
    f = H5Fopen(bp, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "/examples/niah/n_truncated", H5P_DEFAULT);
    H5Ldelete(f, "/examples/passkey/n_truncated", H5P_DEFAULT);
    H5Fclose(f);
    st = in_child(child_read_h5, (void *)bp, msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, "n_truncated: missing"), "1.1 without n_truncated: exit %d, \"%s\"", st, msg);
    f = H5Fopen(bp, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t gm = H5Gopen2(f, "/model", H5P_DEFAULT);
    H5Adelete(gm, "global_layers");
    H5Gclose(gm);
    H5Fclose(f);
    set_schema(bp, "1.1");
    st = in_child(child_read_h5, (void *)bp, msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, "n_truncated: missing"), "1.1 without n_truncated: exit %d, \"%s\"", st, msg);
    set_schema(bp, "1.0");
    results_read_h5(bp, &r);
    bool zero = r.n_examples == d.n_examples;
    for (int i = 0; i < r.n_examples; i++) zero = zero && r.examples[i].n_truncated == 0;
    CHECK(zero, "1.0 file: n_truncated reads as 0");
    /* before 1.2 the model facts were not recorded: every layer reads as global */
    CHECK(r.model.n_global == L && r.model.global_layers[L - 1] == L - 1 && r.model.sliding_window == 0 &&
          isnan(r.model.rope_theta_swa) && strcmp(r.model.format, "") == 0, "1.0 file: model facts read as unrecorded");
    run_data_free(&r);
    set_schema(bp, "1.2");
    st = in_child(child_read_h5, (void *)bp, msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, "global_layers: missing"), "1.2 without /model global_layers: exit %d, \"%s\"", st, msg);
    spit(bp, "not hdf5\n", 9, "wb");
    st = in_child(child_read_h5, (void *)bp, msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, "not an HDF5 file"), "not HDF5: exit %d, \"%s\"", st, msg);
    st = in_child(child_read_h5, (void *)tpath("none.h5"), msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, "none.h5: cannot open"), "missing file: exit %d, \"%s\"", st, msg);

    /* a run with no results yet and a method without layers still round-trips */
    run_data e, e2;
    run_data_init(&e);
    set_meta(&e, "{}");
    run_data_add_method(&e, "none", 0, NULL);
    results_write_h5(tpath("empty.h5"), &e);
    results_read_h5(tpath("empty.h5"), &e2);
    check_same(&e, &e2, true, "empty run");
    run_data_free(&e);
    run_data_free(&e2);
    run_data_free(&d);
}

/* ---- DAM masks (/patterns) ---- */

/* A pattern record for method `name` of the synthetic run: P = 16, head x has the causal bits
 * (i, j) with (i + 2 j + x) % 3 == 0, head 5 has its own PCL 8; R = {x % 4, 9 - x % 4} cut to the
 * head's PCL, C = {0, x % 5}; per-head λ, τ, μ, cells. */
static void make_patterns(pattern_record *p, const char *name) {
    dam_params par;
    dam_params_default(&par);
    par.L = 16;
    memset(p, 0, sizeof *p);
    p->method = dam_strdup(name, "t");
    p->source = dam_strdup("patterns/t.h5", "t");
    snprintf(p->source_sha256, sizeof p->source_sha256, "%064x", 0x5eed);
    dam_patterns *s = p->set = dam_patterns_new(L, H, &par);
    dam_patterns_set_str(&s->model_name, "smollm2-135m");
    dam_patterns_set_str(&s->corpus, "data/jargon.txt.gz");
    snprintf(s->model_sha256, sizeof s->model_sha256, "%064x", 0xa1);
    snprintf(s->corpus_sha256, sizeof s->corpus_sha256, "%064x", 0xb2);
    s->corpus_tokens = 405655;
    s->n_sequences = 2;
    p->lambda = dam_malloc(sizeof(double) * L * H, "t");
    p->tau = dam_malloc(sizeof(double) * L * H, "t");
    p->mu = dam_malloc(sizeof(double) * L * H, "t");
    p->min_cells = dam_malloc(sizeof(int) * L * H, "t");
    for (int x = 0; x < L * H; x++) {
        dam_head *hd = &s->heads[x];
        hd->L = x == 5 ? 8 : 16;
        int set = 0;
        for (int i = 0; i < hd->L; i++)
            for (int j = 0; j <= i; j++)
                if ((i + 2 * j + x) % 3 == 0) hd->mask[i] |= 1ull << j, set++; /* one word per row (L <= 64) */
        hd->density = set / (hd->L * (hd->L + 1) / 2.0);
        int32_t r[2] = {x % 4, 9 - x % 4}, c[2] = {0, x % 5};
        dam_head_set_diags(hd, r, hd->L > 9 ? 2 : 1);
        dam_head_set_cols(hd, c, x % 5 ? 2 : 1);
        p->lambda[x] = 0.5, p->tau[x] = 0.01 * x, p->mu[x] = 0.8, p->min_cells[x] = x % 2;
    }
}

static void child_read_patterns(void *p) {
    run_data d;
    results_read_h5((const char *)p, &d);
    results_read_patterns_h5((const char *)p, &d);
}

static void test_patterns(void) {
    run_data d, r;
    build_run(&d, 3);
    pattern_record a, b, c;
    make_patterns(&a, "dam");
    make_patterns(&b, "streaming"); /* same masks as dam: stored as a hard link */
    make_patterns(&c, "dam");
    run_data_take_patterns(&d, &a);
    run_data_take_patterns(&d, &b);
    const char *hp = tpath("pat.h5");
    results_write_h5(hp, &d);
    results_read_h5(hp, &r);
    CHECK(r.n_patterns == 0, "results_read_h5 leaves the masks out (%d)", r.n_patterns);
    results_read_patterns_h5(hp, &r);
    const pattern_record *ra = run_data_find_patterns(&r, "dam"), *rb = run_data_find_patterns(&r, "streaming");
    CHECK(r.n_patterns == 2 && ra && rb, "%d pattern records read back", r.n_patterns);
    if (ra && rb) {
        CHECK(pattern_record_same(ra, &c) && strcmp(ra->source, "patterns/t.h5") == 0 && ra->set->corpus_tokens == 405655 &&
                  ra->set->n_sequences == 2 && strcmp(ra->set->corpus, "data/jargon.txt.gz") == 0,
              "/patterns/dam round trip (masks, R, C, per-head parameters, provenance)");
        CHECK(ra->set->heads[5].L == 8 && ra->set->heads[4].L == 16, "per-head PCL %d / %d", ra->set->heads[5].L, ra->set->heads[4].L);
        CHECK(isnan(ra->set->par.tau) && ra->set->par.mu == 0.8 && ra->set->par.min_pattern_cells == -1,
              "scalars of the set: tau %g (per head: NaN), mu %g, cells %d", ra->set->par.tau, ra->set->par.mu, ra->set->par.min_pattern_cells);
        CHECK(pattern_record_same(rb, &c), "/patterns/streaming round trip");
        CHECK(strcmp(run_data_find_method(&r, "dam")->patterns_sha256, c.source_sha256) == 0, "method's pattern sha256");
    }
    hid_t f = H5Fopen(hp, H5F_ACC_RDONLY, H5P_DEFAULT);
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t oi;
    herr_t e = H5Oget_info_by_name3(f, "/patterns/streaming", &oi, H5O_INFO_BASIC, H5P_DEFAULT);
#else
    H5O_info_t oi;
    herr_t e = H5Oget_info_by_name2(f, "/patterns/streaming", &oi, H5O_INFO_BASIC, H5P_DEFAULT);
#endif
    CHECK(e >= 0 && oi.rc == 2, "an identical record is a hard link (link count %u)", e >= 0 ? oi.rc : 0);
    H5Fclose(f);
    run_data_free(&r);
    /* reproducible bytes with masks too */
    results_write_h5(tpath("pat2.h5"), &d);
    size_t n1, n2;
    char *b1 = slurp(hp, &n1), *b2 = slurp(tpath("pat2.h5"), &n2);
    CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0, "two writes of one run with masks differ");
    free(b1);
    free(b2);
    /* a file without /patterns (schema 1.0) reads with none */
    const char *op = tpath("old.h5");
    results_write_h5(op, &d);
    f = H5Fopen(op, H5F_ACC_RDWR, H5P_DEFAULT);
    H5Ldelete(f, "/patterns", H5P_DEFAULT);
    H5Fclose(f);
    results_read_h5(op, &r);
    results_read_patterns_h5(op, &r);
    CHECK(r.n_patterns == 0, "no /patterns: %d records", r.n_patterns);
    run_data_free(&r);
    /* damage: a non-causal bit, a bit beyond a head's own PCL, a density that disagrees */
    char msg[512];
    pattern_record *pd = (pattern_record *)run_data_find_patterns(&d, "dam");
    pd->set->heads[0].mask[3] |= 1ull << 7;
    results_write_h5(tpath("bad1.h5"), &d);
    int st = in_child(child_read_patterns, tpath("bad1.h5"), msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, "/patterns/dam/true_mask[0][0]: bit (3, 7) is set outside the causal 16 x 16 mask"),
          "non-causal bit: exit %d, \"%s\"", st, msg);
    pd->set->heads[0].mask[3] &= ~(1ull << 7);
    results_write_h5(tpath("bad2.h5"), &d); /* the writer packs only rows < L_h: set the bit in the file */
    f = H5Fopen(tpath("bad2.h5"), H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "/patterns/dam/true_mask", H5P_DEFAULT);
    uint8_t *mb = malloc((size_t)L * H * 16 * 2);
    H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, mb);
    mb[(size_t)5 * 16 * 2 + 10 * 2] |= 1; /* head (1, 2) = 5, row 10, byte 0, bit 0: key 0 */
    H5Dwrite(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, mb);
    free(mb);
    H5Dclose(ds);
    H5Fclose(f);
    st = in_child(child_read_patterns, tpath("bad2.h5"), msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, "true_mask[1][2]: bit (10, 0) is set outside the causal 8 x 8 mask"),
          "bit beyond the head's PCL: exit %d, \"%s\"", st, msg);
    pd->set->heads[7].density += 0.01;
    results_write_h5(tpath("bad3.h5"), &d);
    st = in_child(child_read_patterns, tpath("bad3.h5"), msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, "true_mask[2][1]: density") && strstr(msg, "disagrees"), "density: exit %d, \"%s\"", st, msg);
    pd->set->heads[7].density -= 0.01;

    /* the journal header keeps each method's pattern hash; --resume refuses another file */
    memcpy(d.methods[1].patterns_sha256, c.source_sha256, 65);
    const char *jp = tpath("pat.h5.journal");
    write_journal(jp, &d);
    run_data j;
    journal_read(jp, &j);
    CHECK(strcmp(run_data_find_method(&j, "dam")->patterns_sha256, c.source_sha256) == 0 &&
              run_data_find_method(&j, "full")->patterns_sha256[0] == 0, "journal header pattern hashes");
    run_data_free(&j);
    run_data cur;
    run_data_init(&cur);
    run_data_copy_meta(&cur, &d);
    snprintf(((method_info *)run_data_find_method(&cur, "dam"))->patterns_sha256, 65, "%064x", 0xfeed);
    resume_arg ra2 = {jp, &cur};
    st = in_child(child_resume, &ra2, msg, sizeof msg);
    CHECK(st == 2 && strstr(msg, "the pattern file of method dam changed since the run started"), "changed pattern file: exit %d, \"%s\"", st, msg);
    run_data_free(&cur);
    pattern_record_free(&c);
    run_data_free(&d);
}

static void test_stats(void) {
    double lo, hi;
    /* 8 of 10, z = 1.96: p = 0.8, z²/n = 0.38416, denominator 1.38416;
     * center = (0.8 + 0.19208) / 1.38416 = 0.716738;
     * half = 1.96 · sqrt(0.016 + 0.009604) / 1.38416 = 1.96 · 0.160012 / 1.38416 = 0.226581
     * -> [0.490157, 0.943319] */
    wilson_interval(8, 10, 1.96, &lo, &hi);
    CHECK_NEAR(lo, 0.490157, 1e-6, 0, "8/10 lo %.6f", lo);
    CHECK_NEAR(hi, 0.943319, 1e-6, 0, "8/10 hi %.6f", hi);
    /* 0 of 10: center = 0.19208 / 1.38416 = 0.138770 = half -> [0, 0.277540] */
    wilson_interval(0, 10, 1.96, &lo, &hi);
    CHECK(lo == 0 && fabs(hi - 0.277540) < 1e-6, "0/10 [%.6f, %.6f]", lo, hi);
    /* 10 of 10 mirrors it: [0.722460, 1] */
    wilson_interval(10, 10, 1.96, &lo, &hi);
    CHECK(hi == 1 && fabs(lo - 0.722460) < 1e-6, "10/10 [%.6f, %.6f]", lo, hi);
    /* fractional: scores summing to 2.5 over 4 examples: p = 0.625, z²/n = 0.9604, denominator 1.9604;
     * center = (0.625 + 0.4802) / 1.9604 = 0.563763;
     * half = 1.96 · sqrt(0.05859375 + 0.060025) / 1.9604 = 1.96 · 0.344411 / 1.9604 = 0.344341
     * -> [0.219422, 0.908103] */
    wilson_interval(2.5, 4, 1.96, &lo, &hi);
    CHECK_NEAR(lo, 0.219422, 1e-6, 0, "2.5/4 lo %.6f", lo);
    CHECK_NEAR(hi, 0.908103, 1e-6, 0, "2.5/4 hi %.6f", hi);
    /* 50 of 100: symmetric around 0.5, half = 1.96 · sqrt(0.0025 + 0.00009604) / 1.038416 = 0.096170 */
    wilson_interval(50, 100, 1.96, &lo, &hi);
    CHECK_NEAR(lo, 0.403830, 1e-6, 0, "50/100 lo %.6f", lo);
    CHECK_NEAR(hi, 0.596170, 1e-6, 0, "50/100 hi %.6f", hi);
    wilson_interval(0, 0, 1.96, &lo, &hi);
    CHECK(isnan(lo) && isnan(hi), "n = 0 gives NaN");

    double a[] = {3, 1, 2}, b[] = {4, 1, 3, 2}, c[] = {NAN, 5, 1}, e[] = {NAN};
    CHECK(median(a, 3) == 2, "median odd %g", median(a, 3));
    CHECK(median(b, 4) == 2.5, "median even %g", median(b, 4));
    CHECK(median(c, 3) == 3, "median skips NaN %g", median(c, 3));
    CHECK(isnan(median(e, 1)) && isnan(median(e, 0)), "median of nothing is NaN");
    CHECK(a[0] == 3 && a[1] == 1, "median leaves its input alone");
    size_t k;
    double m = mean_nonnan(c, 3, &k);
    CHECK(m == 3 && k == 2, "mean_nonnan %g over %zu", m, k);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/dam_test_results.XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_stats();
    test_journal();
    test_h5();
    test_patterns();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (test_failures == 0 && getenv("KEEP") == NULL && system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
    return test_done("results");
}
