/* calibrate.c — see calibrate.h. Order: capture (the attention hook), corpus and sequences, the
 * Stage 1 driver. */
#include "dam/calibrate.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "core/hash.h"
#include "core/mem.h"
#include "core/timer.h"
#include "dam/derive.h"
#include "dam/stage1.h"
#include "kernels/cpu/attention.h"
#include "model/chat.h"

/* ---- capture ------------------------------------------------------------------------------ */

struct dam_capture {
    const llama_model *m;
    int L;
    int n_seq;       /* sequences accumulated */
    size_t tri;      /* L (L + 1) / 2: causal cells per map */
    double *acc;     /* A: [n_layers][n_heads][tri], cell (i, j) at i (i + 1) / 2 + j */
    uint32_t *count; /* C: [tri], identical for every (layer, head) */
};

static size_t tri_index(int i, int j) { return (size_t)i * (i + 1) / 2 + (size_t)j; }

dam_capture *dam_capture_new(const llama_model *m, int L) {
    if (L < 1) dam_die(DAM_EXIT_INPUT, "DAM capture length %d must be positive", L);
    dam_capture *c = dam_calloc(1, sizeof *c, "DAM capture");
    c->m = m;
    c->L = L;
    c->tri = (size_t)L * (L + 1) / 2;
    c->acc = dam_calloc((size_t)m->cfg.n_layers * m->cfg.n_heads * c->tri, sizeof(double), "DAM attention sums A");
    c->count = dam_calloc(c->tri, sizeof(uint32_t), "DAM pair counts C");
    return c;
}

void dam_capture_free(dam_capture *c) {
    if (c == NULL) return;
    dam_free(c->acc);
    dam_free(c->count);
    dam_free(c);
}

int dam_capture_count(const dam_capture *c) { return c->n_seq; }

void dam_capture_attn(void *ctx, int layer, float *out, int out_stride, const float *q, int q_stride, int n_q,
                         const float *k, const float *v, int kv_cap, int n_k) {
    dam_capture *c = ctx;
    const llama_config *cfg = &c->m->cfg;
    const int H = cfg->n_heads, Hkv = cfg->n_kv_heads, d = cfg->head_dim, group = H / Hkv;
    attn_causal(out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, H, Hkv, d, 1.0f / sqrtf((float)d));
    if (n_k > c->L) dam_die(DAM_EXIT_RUNTIME, "DAM capture: %d keys exceed the capture length %d", n_k, c->L);

    /* keys of this layer in float64: kd [Hkv][n_k][d] */
    double *kd = dam_malloc(sizeof(double) * (size_t)Hkv * n_k * d, "DAM capture keys");
    for (int g = 0; g < Hkv; g++)
        for (int j = 0; j < n_k; j++)
            for (int i = 0; i < d; i++)
                kd[((size_t)g * n_k + j) * d + i] = k[((size_t)g * kv_cap + j) * d + i];
    const int nt = omp_get_max_threads();
    const size_t per = (size_t)n_k + d; /* scores [n_k] + scaled query [d] */
    double *scratch = dam_malloc(sizeof(double) * per * nt, "DAM capture rows");
    const double scale = 1.0 / sqrt((double)d);
    double *acc_l = c->acc + (size_t)layer * H * c->tri;

#pragma omp parallel for schedule(dynamic, 4) collapse(2)
    for (int h = 0; h < H; h++)
        for (int t = 0; t < n_q; t++) {
            double *s = scratch + per * omp_get_thread_num(), *qd = s + n_k;
            const int pos = n_k - n_q + t; /* absolute position of query row t */
            const float *qh = q + (size_t)t * q_stride + (size_t)h * d;
            const double *kh = kd + (size_t)(h / group) * n_k * d;
            for (int i = 0; i < d; i++) qd[i] = qh[i] * scale;
            double mx = -INFINITY;
            for (int j = 0; j <= pos; j++) {
                const double *kj = kh + (size_t)j * d;
                double dot = 0;
#pragma omp simd reduction(+ : dot)
                for (int i = 0; i < d; i++) dot += qd[i] * kj[i];
                s[j] = dot;
                mx = dot > mx ? dot : mx;
            }
            double sum = 0;
            for (int j = 0; j <= pos; j++) sum += (s[j] = exp(s[j] - mx));
            double *a = acc_l + (size_t)h * c->tri + tri_index(pos, 0);
            for (int j = 0; j <= pos; j++) a[j] += s[j] / sum;
        }
    dam_free(scratch);
    dam_free(kd);
    /* C: one per valid causal pair seen (the same for every layer and head), counted at the first
     * layer the hook sees: the first global layer (Gemma-3's layer 0 is a sliding-window layer,
     * which never calls the hook) */
    int first = 0;
    while (first < cfg->n_layers && !c->m->layers[first].global) first++;
    if (layer == first)
        for (int t = 0; t < n_q; t++) {
            const int pos = n_k - n_q + t;
            uint32_t *cnt = c->count + tri_index(pos, 0);
            for (int j = 0; j <= pos; j++) cnt[j]++;
        }
}

void dam_capture_run(dam_capture *c, llama_state *s, const int32_t *tokens) {
    if (s->capacity < c->L)
        dam_die(DAM_EXIT_RUNTIME, "DAM capture: state capacity %d is below the capture length %d", s->capacity, c->L);
    llama_attn_fn saved = s->attn;
    void *saved_ctx = s->attn_ctx;
    llama_state_reset(s);
    s->attn = dam_capture_attn;
    s->attn_ctx = c;
    llama_forward(c->m, s, tokens, c->L, NULL, 0);
    s->attn = saved;
    s->attn_ctx = saved_ctx;
    c->n_seq++;
}

void dam_capture_average(const dam_capture *c, int layer, int q_head, double eps, double *abar) {
    const int L = c->L;
    const double *a = c->acc + ((size_t)layer * c->m->cfg.n_heads + q_head) * c->tri;
    for (int i = 0; i < L; i++)
        for (int j = 0; j < L; j++)
            abar[(size_t)i * L + j] = j <= i ? a[tri_index(i, j)] / ((double)c->count[tri_index(i, j)] + eps) : 0.0;
}

/* ---- corpus and sequences ----------------------------------------------------------------- */

char *dam_corpus_read(const char *path, size_t *len, char sha256[65]) {
    /* the file's bytes as stored, for the hash */
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot open corpus: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *raw = dam_malloc(cap, "corpus file");
    for (;;) {
        if (n == cap) raw = dam_realloc(raw, cap *= 2, "corpus file");
        size_t got = fread(raw + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(fp);
    fclose(fp);
    if (err) dam_die(DAM_EXIT_INPUT, "%s: cannot read corpus (a directory?)", path);
    sha256_hex(raw, n, sha256);
    dam_free(raw);

    /* the text, through zlib (plain files are read as they are) */
    gzFile gz = gzopen(path, "rb");
    if (gz == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot open corpus: %s", path, strerror(errno));
    cap = 1 << 20;
    n = 0;
    char *text = dam_malloc(cap, "corpus text");
    for (;;) {
        if (n + 1 >= cap) text = dam_realloc(text, cap *= 2, "corpus text");
        size_t want = cap - n - 1;
        int got = gzread(gz, text + n, want > (1u << 30) ? (1u << 30) : (unsigned)want);
        if (got < 0) {
            int errnum = 0;
            const char *msg = gzerror(gz, &errnum);
            dam_die(DAM_EXIT_INPUT, "%s: corpus is not readable gzip/text: %s", path, msg ? msg : "zlib error");
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    int zerr = Z_OK;
    gzerror(gz, &zerr);
    if (zerr == Z_BUF_ERROR) dam_die(DAM_EXIT_INPUT, "%s: corpus is a truncated gzip stream", path);
    gzclose(gz);
    if (n == 0) dam_die(DAM_EXIT_INPUT, "%s: corpus is empty", path);
    text[n] = 0;
    *len = n;
    return text;
}

int dam_calib_prefix(const llama_model *m, const char *policy, int32_t **ids) {
    if (strcmp(policy, "none") == 0) {
        /* the BOS policy: what add_special puts in front of an empty prompt */
        int32_t *e = NULL;
        int n = tok_encode(m->tok, "", 0, true, false, &e);
        int keep = n > 0 && e[0] == tok_bos(m->tok) && tok_bos(m->tok) >= 0 ? 1 : 0;
        *ids = dam_malloc(sizeof(int32_t), "prefix tokens"); /* one slot even when empty */
        if (keep) (*ids)[0] = e[0];
        dam_free(e);
        return keep;
    }
    if (strcmp(policy, "chat") == 0) {
        chat_template t = chat_detect(m->chat_template, m->path);
        if (t.format == CHAT_NONE) dam_die(DAM_EXIT_INPUT, "%s: prefix \"chat\" but the model has no chat template", m->path);
        static const char *MARK = "\x01" "DAM-USER-CONTENT" "\x01"; /* cut point: where the user text goes */
        char *rendered = chat_render_user(&t, MARK);
        char *cut = strstr(rendered, MARK);
        if (cut == NULL) dam_die(DAM_EXIT_RUNTIME, "chat template rendering lost the user content");
        *cut = 0;
        int n = tok_encode(m->tok, rendered, strlen(rendered), true, true, ids);
        dam_free(rendered);
        chat_template_free(&t);
        return n;
    }
    dam_die(DAM_EXIT_INPUT, "prefix \"%s\" is not a prefix policy (none, chat)", policy);
}

int dam_calib_offsets(int64_t n_tokens, int body, int n_seq, int64_t *offsets) {
    if (n_seq < 1 || body < 1 || n_tokens < body || n_tokens - body + 1 < n_seq) return -1;
    const int64_t span = n_tokens - body; /* last valid start */
    for (int s = 0; s < n_seq; s++) offsets[s] = n_seq == 1 ? 0 : (int64_t)s * span / (n_seq - 1);
    return 0;
}

/* ---- the Stage 1 driver ------------------------------------------------------------------- */

dam_patterns *dam_calibrate(const llama_model *m, const dam_calib_opts *o) {
    const double t0 = now_ms();
    const char *bad = dam_params_check(&o->par);
    if (bad) dam_die(DAM_EXIT_INPUT, "DAM parameters: %s", bad);
    const int L = o->par.L, n_layers = m->cfg.n_layers, n_heads = m->cfg.n_heads;
    if (L > m->cfg.n_ctx_train)
        dam_die(DAM_EXIT_INPUT, "pcl %d exceeds the context length %d of %s", L, m->cfg.n_ctx_train, m->path);
    if (o->n_seq < 1) dam_die(DAM_EXIT_INPUT, "sequences %d must be at least 1", o->n_seq);
    if (m->tok == NULL || m->tok_embd == NULL)
        dam_die(DAM_EXIT_INPUT, "DAM calibration needs a real model with its tokenizer; %s has none (a synthetic shape: "
                "DAM cannot run there, its masks come from a model's own attention)", m->name ? m->name : "the model");

    size_t len = 0;
    char sha[65];
    char *text = dam_corpus_read(o->corpus_path, &len, sha);
    int32_t *toks = NULL;
    const int N = tok_encode(m->tok, text, len, false, false, &toks);
    dam_free(text);
    int32_t *pre = NULL;
    const int np = dam_calib_prefix(m, o->prefix, &pre);
    if (np >= L)
        dam_die(DAM_EXIT_INPUT, "pcl %d: the \"%s\" prefix alone has %d tokens; pcl must exceed it", L, o->prefix, np);
    const int body = L - np;
    int64_t *offs = dam_malloc(sizeof(int64_t) * (size_t)o->n_seq, "calibration offsets");
    if (dam_calib_offsets(N, body, o->n_seq, offs) != 0)
        dam_die(DAM_EXIT_INPUT,
                "%s: corpus has %d tokens, too short for %d sequences of pcl %d (%d corpus tokens each after a "
                "%d-token prefix, at distinct offsets)",
                o->corpus_path, N, o->n_seq, L, body, np);

    if (o->progress)
        fprintf(stderr,
                "calibrate: %s, %d layers x %d query heads (%d KV heads), pcl %d, %d sequences from %s (%d tokens), "
                "prefix %s (%d tokens)\n",
                m->name, n_layers, n_heads, m->cfg.n_kv_heads, L, o->n_seq, o->corpus_path, N, o->prefix, np);
    dam_capture *cap = dam_capture_new(m, L);
    llama_state *st = llama_state_new(m, L, L);
    int32_t *seq = dam_malloc(sizeof(int32_t) * (size_t)L, "calibration sequence");
    if (np > 0) memcpy(seq, pre, sizeof(int32_t) * np);
    for (int s = 0; s < o->n_seq; s++) {
        memcpy(seq + np, toks + offs[s], sizeof(int32_t) * body);
        dam_capture_run(cap, st, seq);
        if (o->progress)
            fprintf(stderr, "calibrate: sequence %d/%d (corpus tokens %lld..%lld) %.1f s\n", s + 1, o->n_seq,
                    (long long)offs[s], (long long)offs[s] + body - 1, (now_ms() - t0) / 1e3);
    }
    llama_state_free(st);
    dam_free(seq);

    /* Ā of every map, kept in the pattern set (float32, causal cells), then Stage 1 from it: the
     * same function re-derives masks for other thresholds later (dam/derive.h). */
    dam_patterns *p = dam_patterns_new(n_layers, n_heads, &o->par);
    const size_t tri = (size_t)L * (L + 1) / 2;
    p->abar = dam_malloc(sizeof(float) * tri * (size_t)n_layers * n_heads, "DAM mean attention");
    double *row = dam_malloc(sizeof(double) * (size_t)L * L * omp_get_max_threads(), "DAM average maps");
#pragma omp parallel for schedule(dynamic, 1)
    for (int x = 0; x < n_layers * n_heads; x++) {
        double *a = row + (size_t)L * L * omp_get_thread_num();
        dam_capture_average(cap, x / n_heads, x % n_heads, o->par.eps, a);
        float *dst = p->abar + tri * x;
        for (int i = 0; i < L; i++)
            for (int j = 0; j <= i; j++) dst[(size_t)i * (i + 1) / 2 + j] = (float)a[(size_t)i * L + j];
    }
    dam_free(row);
    dam_capture_free(cap);
    param lam = param_scalar(o->par.lambda), tau = param_scalar(o->par.tau), mu = param_scalar(o->par.mu);
    param cells = param_scalar(o->par.min_pattern_cells), pcl = param_scalar(L);
    dam_derive(p, &lam, &tau, &mu, &cells, &pcl);
    param_free(&lam);
    param_free(&tau);
    param_free(&mu);
    param_free(&cells);
    param_free(&pcl);

    dam_patterns_set_str(&p->model_name, m->name);
    memcpy(p->model_sha256, m->sha256, 65);
    dam_patterns_set_str(&p->corpus, o->corpus_label ? o->corpus_label : o->corpus_path);
    memcpy(p->corpus_sha256, sha, 65);
    p->corpus_tokens = N;
    dam_patterns_set_str(&p->prefix, o->prefix);
    p->n_sequences = o->n_seq;
    dam_free(offs);
    dam_free(pre);
    dam_free(toks);
    return p;
}
