/* moa_search.c — builds a MoA profile (per layer × query head elastic rule α + β·n, see
 * baselines/moa.c) for a model by a small, deterministic search on calibration text. Not a test
 * and not run by CI; `make` builds it as $(BUILD)/tests/tools/moa_search. It wrote
 * configs/moa_smollm2-135m.json with the defaults:
 *
 *   build/tests/tools/moa_search [--model smollm2-135m] [--corpus data/jargon.txt.gz]
 *       [--lengths 1024,2048] [--sequences 8] [--rows 64] [--sinks 64] [--budget 0.25]
 *       [--budget-length 2048] [--threads 0] [-o configs/moa_smollm2-135m.json]
 *
 * 1. Calibration sequences: the corpus (never the evaluation haystack) is tokenised as raw text and
 *    cut, for each length n in --lengths, into --sequences sequences of n tokens at evenly spaced
 *    offsets (dam_calib_offsets, prefix "none": like the passkey and niah prompts, no chat template).
 * 2. Each sequence runs once through the model with full attention (prefill in one step). For each
 *    layer, query head and each of the last --rows query rows i ("tail" rows, where MoA's calibration
 *    measures its loss: the response) the float64 softmax row P(i, ·) is formed, and for every
 *    candidate rule c = (α, β) of the grid its kept mass
 *        recall_c(i) = Σ_{j kept} P(i, j),  kept: j < sinks or i − j < w_c(n) = max(1, ⌊α + β·n⌋),
 *    is added up; recall_c(l, h, n) is the mean over rows and sequences.
 * 3. Grid: α in {0, 32, 64, 128, 256, 512, 1024} tokens × β in {0, 1/16, 1/8, 1/4, 3/8, 1/2, 3/4, 1}
 *    (56 rules; β = 1 is full attention). A rule's cost is its exact density at --budget-length
 *    (sinks included; ties broken by the density at 8192, then by smaller α).
 * 4. Selection: for a recall target τ, head (l, h) takes the cheapest rule whose recall reaches τ at
 *    every calibration length (if none does, the rule with the highest worst-length recall). The mean
 *    density over heads at --budget-length grows with τ; τ* is the largest target whose mean density
 *    is within --budget (binary search over the recall values that occur). The profile holds the
 *    rules chosen at τ*; its "meta" object records the settings, τ* and the resulting densities.
 * Run it from the checkout (paths are relative to it). Cost with the defaults on 2 cores: 16 forward passes of 1-2K tokens, about 3 minutes.
 * Differences from MoA's own search: MoA scores rules by gradient-based attention influence on the
 * loss of model-written summaries and solves a MILP over lengths; this uses attention mass recall on
 * plain text with a common recall target — simpler, same shape of result. */
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baselines/moa.h"
#include "core/error.h"
#include "core/mem.h"
#include "dam/calibrate.h"
#include "harness/args.h"
#include "harness/commands.h"
#include "harness/registry.h"
#include "kernels/cpu/attention.h"
#include "kernels/maskplan.h"
#include "model/llama.h"

static const double ALPHAS[] = {0, 32, 64, 128, 256, 512, 1024};
static const double BETAS[] = {0, 0.0625, 0.125, 0.25, 0.375, 0.5, 0.75, 1.0};
enum { NA = sizeof ALPHAS / sizeof ALPHAS[0], NB = sizeof BETAS / sizeof BETAS[0], NC = NA * NB, MAX_LENS = 8 };

/* The capture state of one search: recall sums per (length index, layer, head, candidate). */
typedef struct {
    const llama_model *m;
    int rows, sinks;
    int li;          /* index of the current length */
    long win[NC];    /* candidate windows at the current length */
    double *sum;     /* [n_lens][n_layers][n_heads][NC] */
    double *scratch; /* per-thread P and prefix sums */
    double *mass;    /* [n_heads][rows][NC] this layer's row results */
} search;

/* The attention hook: the true dense output (attn_causal), then the tail rows' kept mass per rule. */
static void hook(void *ctx, int layer, float *out, int out_stride, const float *q, int q_stride, int n_q, const float *k,
                 const float *v, int kv_cap, int n_k) {
    search *s = ctx;
    const llama_config *cfg = &s->m->cfg;
    const int H = cfg->n_heads, d = cfg->head_dim, group = cfg->n_heads / cfg->n_kv_heads, R = s->rows;
    attn_causal(out, out_stride, q, q_stride, n_q, k, v, kv_cap, n_k, H, cfg->n_kv_heads, d, 1.0f / sqrtf((float)d));
    if (n_q != n_k) dam_die(DAM_EXIT_RUNTIME, "internal error: moa_search needs one prefill step");
    const double scale = 1.0 / sqrt((double)d);
#pragma omp parallel for schedule(dynamic, 1) collapse(2)
    for (int h = 0; h < H; h++)
        for (int r = 0; r < R; r++) {
            const int i = n_k - R + r;
            double *p = s->scratch + (size_t)omp_get_thread_num() * 2 * (n_k + 1), *c = p + n_k + 1;
            const float *qi = q + (long)i * q_stride + (long)h * d, *kh = k + (long)(h / group) * kv_cap * d;
            double mx = -INFINITY, tot = 0;
            for (int j = 0; j <= i; j++) {
                double dot = 0;
                for (int x = 0; x < d; x++) dot += (double)qi[x] * kh[(long)j * d + x];
                p[j] = dot * scale;
                mx = p[j] > mx ? p[j] : mx;
            }
            c[0] = 0;
            for (int j = 0; j <= i; j++) {
                tot += exp(p[j] - mx);
                c[j + 1] = tot;
            }
            double *out_m = s->mass + ((size_t)h * R + r) * NC;
            for (int cc = 0; cc < NC; cc++) {
                const long w = s->win[cc], lo = i - w + 1 > 0 ? i - w + 1 : 0;
                const long sk = s->sinks < lo ? s->sinks : lo;
                out_m[cc] = (c[i + 1] - c[lo] + c[sk]) / tot;
            }
        }
    double *sum = s->sum + (((size_t)s->li * cfg->n_layers + layer) * H) * NC;
    for (int h = 0; h < H; h++)
        for (int r = 0; r < R; r++)
            for (int cc = 0; cc < NC; cc++) sum[(size_t)h * NC + cc] += s->mass[((size_t)h * R + r) * NC + cc];
}

/* Exact density of sinks + window w over n tokens. */
static double rule_density(int sinks, long w, long n) {
    maskplan *p = maskplan_new();
    int32_t *v = dam_malloc(sizeof(int32_t) * (size_t)(w > sinks ? w : sinks) + 4, "rule");
    for (long r = 0; r < w; r++) v[r] = (int32_t)r;
    maskplan_set_diags(p, v, (int)w);
    for (int i = 0; i < sinks; i++) v[i] = i;
    maskplan_set_cols(p, v, sinks);
    const double dens = maskplan_density(p, n);
    dam_free(v);
    maskplan_free(p);
    return dens;
}

/* The rule each head takes for target tau (see the header); returns the mean cost. */
static double choose(double tau, int n_heads_total, const double *worst, const double *cost, const double *cost8k,
                     int *pick) {
    double mean = 0;
    for (int x = 0; x < n_heads_total; x++) {
        int best = -1, top = 0;
        for (int c = 0; c < NC; c++) {
            const double *w = worst + (size_t)x * NC;
            if (w[c] > w[top] || (w[c] == w[top] && cost[c] < cost[top])) top = c;
            if (w[c] < tau) continue;
            if (best < 0 || cost[c] < cost[best] || (cost[c] == cost[best] && cost8k[c] < cost8k[best])) best = c;
        }
        pick[x] = best >= 0 ? best : top;
        mean += cost[pick[x]];
    }
    return mean / n_heads_total;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *model_arg = "smollm2-135m", *corpus = "data/jargon.txt.gz", *out_path = "configs/moa_smollm2-135m.json";
    const char *lens_arg = "1024,2048";
    int n_seq = 8, rows = 64, sinks = 64, budget_len = 2048, threads = 0;
    double budget = 0.25;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--model") == 0) model_arg = arg_value(argc, argv, &i);
        else if (strcmp(a, "--corpus") == 0) corpus = arg_value(argc, argv, &i);
        else if (strcmp(a, "--lengths") == 0) lens_arg = arg_value(argc, argv, &i);
        else if (strcmp(a, "--sequences") == 0) n_seq = atoi(arg_value(argc, argv, &i));
        else if (strcmp(a, "--rows") == 0) rows = atoi(arg_value(argc, argv, &i));
        else if (strcmp(a, "--sinks") == 0) sinks = atoi(arg_value(argc, argv, &i));
        else if (strcmp(a, "--budget") == 0) budget = atof(arg_value(argc, argv, &i));
        else if (strcmp(a, "--budget-length") == 0) budget_len = atoi(arg_value(argc, argv, &i));
        else if (strcmp(a, "--threads") == 0) threads = atoi(arg_value(argc, argv, &i));
        else if (strcmp(a, "-o") == 0) out_path = arg_value(argc, argv, &i);
        else dam_die(DAM_EXIT_INPUT, "moa_search: unknown argument %s (see the header of tests/tools/moa_search.c)", a);
    }
    int lens[MAX_LENS], n_lens = 0;
    for (const char *c = lens_arg; *c && n_lens < MAX_LENS;) {
        lens[n_lens++] = atoi(c);
        c = strchr(c, ',');
        if (c == NULL) break;
        c++;
    }
    if (n_seq < 1 || rows < 1 || sinks < 0 || !(budget > 0 && budget <= 1) || budget_len < 1 || n_lens < 1)
        dam_die(DAM_EXIT_INPUT, "moa_search: bad settings (sequences >= 1, rows >= 1, sinks >= 0, budget in (0, 1])");
    for (int i = 0; i < n_lens; i++)
        if (lens[i] <= rows) dam_die(DAM_EXIT_INPUT, "moa_search: length %d must exceed --rows %d", lens[i], rows);
    set_threads(threads);

    setenv("DAM_ROOT", ".", 0); /* run from the checkout: models/ and configs/models.tsv are here */
    char *path = model_resolve(model_arg);
    llama_model *m = llama_load(path);
    const int L = m->cfg.n_layers, H = m->cfg.n_heads;
    size_t len = 0;
    char sha[65];
    char *text = dam_corpus_read(corpus, &len, sha);
    int32_t *toks = NULL;
    const int N = tok_encode(m->tok, text, len, false, false, &toks);
    dam_free(text);
    int32_t *pre = NULL;
    const int np = dam_calib_prefix(m, "none", &pre);

    search s = {.m = m, .rows = rows, .sinks = sinks};
    s.sum = dam_calloc((size_t)n_lens * L * H * NC, sizeof(double), "recall sums");
    s.mass = dam_malloc(sizeof(double) * (size_t)H * rows * NC, "row masses");
    int max_len = 0;
    for (int i = 0; i < n_lens; i++) max_len = lens[i] > max_len ? lens[i] : max_len;
    s.scratch = dam_malloc(sizeof(double) * 2 * (size_t)(max_len + 1) * omp_get_max_threads(), "scratch");
    fprintf(stderr, "moa_search: %s, %d layers x %d heads; %s (%d tokens); %d sequences at each of %d lengths\n", m->name,
            L, H, corpus, N, n_seq, n_lens);
    for (int li = 0; li < n_lens; li++) {
        const int n = lens[li], body = n - np;
        s.li = li;
        for (int c = 0; c < NC; c++) s.win[c] = moa_window(ALPHAS[c / NB], BETAS[c % NB], n);
        int64_t *offs = dam_malloc(sizeof(int64_t) * (size_t)n_seq, "offsets");
        if (dam_calib_offsets(N, body, n_seq, offs) != 0) dam_die(DAM_EXIT_INPUT, "%s: too short for %d x %d tokens", corpus, n_seq, n);
        llama_state *st = llama_state_new(m, n, n);
        st->attn = hook;
        st->attn_ctx = &s;
        int32_t *seq = dam_malloc(sizeof(int32_t) * (size_t)n, "sequence");
        if (np > 0) memcpy(seq, pre, sizeof(int32_t) * np);
        for (int q = 0; q < n_seq; q++) {
            memcpy(seq + np, toks + offs[q], sizeof(int32_t) * body);
            llama_state_reset(st);
            llama_forward(m, st, seq, n, NULL, 1);
            fprintf(stderr, "moa_search: length %d sequence %d/%d\n", n, q + 1, n_seq);
        }
        dam_free(seq);
        llama_state_free(st);
        dam_free(offs);
    }

    /* worst-length mean recall per (head, rule), costs, and the selection */
    const int LH = L * H;
    double *worst = dam_malloc(sizeof(double) * (size_t)LH * NC, "worst recall");
    for (int x = 0; x < LH; x++)
        for (int c = 0; c < NC; c++) {
            double w = INFINITY;
            for (int li = 0; li < n_lens; li++) {
                const double r = s.sum[((size_t)li * LH + x) * NC + c] / ((double)n_seq * rows);
                w = r < w ? r : w;
            }
            worst[(size_t)x * NC + c] = w;
        }
    double cost[NC], cost8k[NC];
    for (int c = 0; c < NC; c++) {
        cost[c] = rule_density(sinks, moa_window(ALPHAS[c / NB], BETAS[c % NB], budget_len), budget_len);
        cost8k[c] = rule_density(sinks, moa_window(ALPHAS[c / NB], BETAS[c % NB], 8192), 8192);
    }
    double *thr = dam_malloc(sizeof(double) * ((size_t)LH * NC + 1), "thresholds");
    memcpy(thr, worst, sizeof(double) * (size_t)LH * NC);
    thr[(size_t)LH * NC] = 0;
    qsort(thr, (size_t)LH * NC + 1, sizeof(double), cmp_double);
    int *pick = dam_malloc(sizeof(int) * LH, "picks");
    long lo = 0, hi = (long)LH * NC; /* thr[lo] always fits (τ = 0 picks the cheapest rules) */
    while (lo < hi) {
        const long mid = (lo + hi + 1) / 2;
        if (choose(thr[mid], LH, worst, cost, cost8k, pick) <= budget) lo = mid;
        else hi = mid - 1;
    }
    const double tau = thr[lo];
    const double mean_cost = choose(tau, LH, worst, cost, cost8k, pick);
    if (mean_cost > budget)
        dam_warn("moa_search: the cheapest rules already cost %.4f > budget %g at %d tokens; writing them", mean_cost,
                 budget, budget_len);

    /* the profile: one row per layer */
    FILE *f = fopen(out_path, "w");
    if (f == NULL) dam_die(DAM_EXIT_INPUT, "%s: cannot write", out_path);
    fprintf(f, "{\"model\": \"%s\",\n \"alphas\": [\n", model_arg);
    for (int l = 0; l < L; l++) {
        fprintf(f, "  [");
        for (int h = 0; h < H; h++) fprintf(f, "%s%g", h ? ", " : "", ALPHAS[pick[l * H + h] / NB]);
        fprintf(f, "]%s\n", l + 1 < L ? "," : "");
    }
    fprintf(f, " ],\n \"betas\": [\n");
    for (int l = 0; l < L; l++) {
        fprintf(f, "  [");
        for (int h = 0; h < H; h++) fprintf(f, "%s%g", h ? ", " : "", BETAS[pick[l * H + h] % NB]);
        fprintf(f, "]%s\n", l + 1 < L ? "," : "");
    }
    fprintf(f, " ],\n \"meta\": {\"tool\": \"tests/tools/moa_search\", \"corpus\": \"%s\", \"corpus_sha256\": \"%s\", "
               "\"prefix\": \"none\",\n  \"lengths\": [",
            corpus, sha);
    for (int li = 0; li < n_lens; li++) fprintf(f, "%s%d", li ? ", " : "", lens[li]);
    fprintf(f, "], \"sequences\": %d, \"tail_rows\": %d, \"sinks\": %d, \"budget\": %g, \"budget_length\": %d,\n", n_seq,
            rows, sinks, budget, budget_len);
    fprintf(f, "  \"grid_alpha\": [");
    for (int a = 0; a < NA; a++) fprintf(f, "%s%g", a ? ", " : "", ALPHAS[a]);
    fprintf(f, "], \"grid_beta\": [");
    for (int b = 0; b < NB; b++) fprintf(f, "%s%g", b ? ", " : "", BETAS[b]);
    fprintf(f, "],\n  \"target_recall\": %.6f, \"mean_density_at_budget_length\": %.6f", tau, mean_cost);
    for (int li = 0; li < n_lens; li++) {
        double rec = 0, dens = 0;
        for (int x = 0; x < LH; x++) {
            rec += s.sum[((size_t)li * LH + x) * NC + pick[x]] / ((double)n_seq * rows);
            dens += rule_density(sinks, moa_window(ALPHAS[pick[x] / NB], BETAS[pick[x] % NB], lens[li]), lens[li]);
        }
        fprintf(f, ",\n  \"mean_tail_recall_%d\": %.6f, \"mean_density_%d\": %.6f", lens[li], rec / LH, lens[li], dens / LH);
    }
    fprintf(f, "}}\n");
    if (fclose(f) != 0) dam_die(DAM_EXIT_INPUT, "%s: cannot write", out_path);
    int full = 0, fixed = 0;
    for (int x = 0; x < LH; x++) {
        full += pick[x] % NB == NB - 1;
        fixed += pick[x] % NB == 0;
    }
    fprintf(stderr, "moa_search: target recall %.4f, mean density %.4f at %d; %d heads full (beta = 1), %d fixed windows (beta = 0); wrote %s\n",
            tau, mean_cost, budget_len, full, fixed, out_path);

    dam_free(pick);
    dam_free(thr);
    dam_free(worst);
    dam_free(s.scratch);
    dam_free(s.mass);
    dam_free(s.sum);
    dam_free(pre);
    dam_free(toks);
    llama_free(m);
    dam_free(path);
    return 0;
}
