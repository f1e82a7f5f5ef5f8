/* run.c — see run.h. */
#include "harness/run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "core/timer.h"
#include "datasets/workload.h"
#include "harness/attn_ctx.h"
#include "harness/commands.h"
#include "harness/journal.h"
#include "harness/progress.h"
#include "harness/registry.h"
#include "harness/results_h5.h"
#include "harness/summary.h"
#include "harness/version.h"
#include "kernels/cpu/ops.h"
#include "model/llama_cuda.h"

/* Fails early (exit 2) if the folder of `path` does not exist or is not writable, so a long run
 * does not end without a place to put its results. */
static void check_writable(const char *path, bool resume, bool overwrite) {
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) dam_die(DAM_EXIT_INPUT, "%s: is a directory, not a results file", path);
        if (!resume && !overwrite)
            dam_die(DAM_EXIT_INPUT, "%s: exists; use --resume to continue that run or --overwrite to replace it", path);
        /* --resume republishes the file: never over one written under another schema major */
        if (resume) results_check_schema_h5(path);
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    if (slash == dir) snprintf(dir, sizeof dir, "/");
    if (access(dir, W_OK) != 0) dam_die(DAM_EXIT_INPUT, "%s: cannot write the results here: %s", path, strerror(errno));
    size_t n = strlen(path);
    if (n < 4 || strcmp(path + n - 3, ".h5") != 0) dam_die(DAM_EXIT_INPUT, "%s: the results file must end in .h5", path);
    /* access() passes where creating still fails (a parent that is a file, /proc, a read-only
     * mount): create and remove a probe file next to the results */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s.probe.%ld", path, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) dam_die(DAM_EXIT_INPUT, "%s: cannot write the results here: %s", path, strerror(errno));
    close(fd);
    unlink(probe);
}

/* log-softmax of logits[vocab] into out (double accumulation). */
static void log_softmax(const float *logits, int vocab, float *out) {
    float mx = logits[0];
    for (int i = 1; i < vocab; i++) mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0;
    for (int i = 0; i < vocab; i++) sum += exp((double)logits[i] - mx);
    const double lse = mx + log(sum);
    for (int i = 0; i < vocab; i++) out[i] = (float)(logits[i] - lse);
}

/* Everything one (method, example) cell needs besides the model. */
typedef struct {
    const llama_model *m;
    const llama_cuda_model *gpu; /* the model's weights on the GPU (--device cuda), else NULL */
    const run_config *cfg;
    attn_ctx *ctx;
    float *full_logp; /* [n_answer][vocab] log-probabilities of `full` at the answer positions, or NULL */
    bool have_full;   /* full_logp holds the reference for the current example */
} cell_env;

static void run_cell(cell_env *env, const method *meth, const example *e, result_record *r) {
    const llama_model *m = env->m;
    const int V = m->cfg.vocab, L = m->cfg.n_layers, H = m->cfg.n_heads;
    const int n = e->n, n_ans = e->n_answer;
    const int n_total = n + (e->max_new > n_ans ? e->max_new : n_ans) + 1;
    memset(r, 0, sizeof *r);
    r->method = dam_strdup(meth->name, "method");
    r->task = dam_strdup(e->rec.task, "task");
    r->index = e->rec.index;

    dam_mem_reset_peak();
    llama_cuda_mem_reset_peak();
    const size_t base = dam_mem_in_use();
    /* dynamic methods estimate their masks from the whole prompt, and methods with their own kernel
       (full_eager) see it whole as an eager forward would: one prefill step */
    const int chunk = method_whole_prompt(meth) && n > env->cfg->prefill_chunk ? n : env->cfg->prefill_chunk;
    llama_state *s = env->gpu ? llama_cuda_state_new(m, env->gpu, n_total, chunk) : llama_state_new(m, n_total, chunk);
    float *logits = dam_malloc(sizeof(float) * V * (size_t)(n_ans > 0 ? n_ans : 1), "logits");
    float *logp = dam_malloc(sizeof(float) * V, "log-probabilities");

    /* prefill: plans (mask build) + prompt forward; alignment time excluded */
    double t0 = now_ms();
    attn_ctx_prepare(env->ctx, n, n_total, env->cfg->alignment && !method_is_full(meth));
    attn_ctx_attach(env->ctx, s);
    llama_forward(m, s, e->ids, n, logits, 1);
    double t1 = now_ms();
    r->mask_ms = env->ctx->mask_ms; /* static plans at prepare + dynamic plans during the forward */
    r->prefill_ms = t1 - t0 - env->ctx->align_ms;
    r->kv_bytes = (double)llama_state_kv_bytes(m, s); /* the prompt's KV (methods that evict: below) */

    /* greedy generation from the prompt's last logits */
    int32_t *out = dam_malloc(sizeof(int32_t) * (size_t)e->max_new, "generated ids");
    float *first = dam_malloc(sizeof(float) * V, "first logits");
    memcpy(first, logits, sizeof(float) * V);
    int got = 0;
    double t2 = now_ms();
    while (got < e->max_new) {
        int32_t next = op_argmax(logits, V);
        out[got++] = next;
        if (tok_is_eog(m->tok, next) || got == e->max_new) break;
        llama_forward(m, s, &next, 1, logits, 1);
    }
    double t3 = now_ms();
    if (method_evicts(meth) != EVICT_NONE) r->kv_bytes = (double)attn_ctx_kv_bytes(env->ctx, s); /* held at the end */
    r->n_generated = got;
    r->decode_ms = got > 1 ? (t3 - t2) / (got - 1) : 0.0;
    r->prediction = tok_decode(m->tok, out, got, false);
    r->score = workload_score(e, r->prediction);

    /* teacher forcing of the gold answer from the prompt's cache: positions n-1 .. n+n_ans-2 */
    double nll = 0, kl = 0;
    if (n_ans > 0) {
        memcpy(logits, first, sizeof(float) * V);
        if (n_ans > 1) {
            s->n_past = n;
            attn_ctx_rewind_to_prompt(env->ctx); /* eviction state as right after the prompt */
            llama_forward(m, s, e->answer_ids, n_ans - 1, logits + V, n_ans - 1);
        }
        for (int t = 0; t < n_ans; t++) {
            log_softmax(logits + (size_t)t * V, V, logp);
            nll -= logp[e->answer_ids[t]];
            float *ref = env->full_logp + (size_t)t * V;
            if (method_is_full(meth)) {
                memcpy(ref, logp, sizeof(float) * V);
            } else if (env->have_full) {
                double k = 0;
                for (int i = 0; i < V; i++) k += exp((double)ref[i]) * ((double)ref[i] - logp[i]);
                kl += k;
            }
        }
        nll /= n_ans;
        kl /= n_ans;
    }
    if (method_is_full(meth)) env->have_full = true;
    r->answer_nll = nll;
    r->logit_kl = method_is_full(meth) ? 0.0 : (env->have_full ? kl : NAN);

    r->n_layers = L;
    r->n_heads = H;
    r->alignment = dam_malloc(sizeof(float) * L * H * ALIGN_N_METRICS, "alignment");
    r->head_density = dam_malloc(sizeof(float) * L * H, "density");
    r->density = attn_ctx_collect(env->ctx, r->alignment, r->head_density);
    if (method_is_full(meth)) /* full against itself: exact by definition, not measured (global layers) */
        for (int i = 0; i < L * H; i++) {
            if (!m->layers[i / H].global) continue; /* no method applies there: NaN */
            float *a = r->alignment + (size_t)i * ALIGN_N_METRICS;
            a[ALIGN_TAIL_MASS_RECALL] = a[ALIGN_SPREAD_MASS_RECALL] = 1.0f;
            a[ALIGN_TAIL_NEG_LOG_RECALL] = a[ALIGN_SPREAD_NEG_LOG_RECALL] = 0.0f;
            a[ALIGN_TAIL_OUT_REL_L2] = a[ALIGN_SPREAD_OUT_REL_L2] = 0.0f;
            a[ALIGN_TAIL_OUT_COS] = a[ALIGN_SPREAD_OUT_COS] = 1.0f;
        }
    if (env->ctx->empty_rows) dam_warn("method %s left %d empty attention rows on %s #%d", meth->name, env->ctx->empty_rows, e->rec.task, e->rec.index);
    /* weights + the example's own high-water mark (excludes results held from earlier examples);
       on the GPU: the device's high-water mark (weights, KV cache, activations, plans, scratch) */
    r->peak_bytes = env->gpu ? (double)llama_cuda_mem_peak() : (double)(m->weight_bytes + dam_mem_peak() - base);

    dam_free(first);
    dam_free(out);
    dam_free(logp);
    dam_free(logits);
    llama_state_free(s);
}

/* The DAM masks each instance applies (/patterns), and their pattern file's hash in its method
 * entry (journal header: --resume refuses a changed file). */
static void store_patterns(run_data *d, const run_config *cfg) {
    for (int k = 0; k < cfg->n_methods; k++) {
        pattern_record pr;
        if (!method_store_patterns(&cfg->methods[k], &pr)) continue;
        method_info *mi = (method_info *)run_data_find_method(d, pr.method);
        if (mi) memcpy(mi->patterns_sha256, pr.source_sha256, 65);
        run_data_take_patterns(d, &pr);
    }
}

static void fill_meta(run_data *d, const run_config *cfg, const llama_model *m, const char *model_arg) {
    d->harness_version = dam_strdup(DAM_VERSION, "meta");
    d->git_revision = dam_strdup(DAM_GIT_REVISION, "meta");
    d->config_json = dam_strdup(cfg->resolved_json, "meta");
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    d->host = dam_strdup(host, "meta");
    char dev[256] = "cpu", cuda[32] = "none", driver[32] = "none";
    if (strcmp(cfg->device, "cuda") == 0) {
        char name[200];
        llama_cuda_device_info(name, sizeof name, cuda, sizeof cuda, driver, sizeof driver);
        dam_format(dev, sizeof dev, "cuda: %s", name);
    }
    d->device = dam_strdup(dev, "meta");
    d->cuda_version = dam_strdup(cuda, "meta");
    d->driver_version = dam_strdup(driver, "meta");
    char now[32];
    results_utc_now(now);
    d->start_time = dam_strdup(now, "meta");
    d->end_time = dam_strdup("", "meta");
    d->seed = cfg->seed;
    model_info *mi = &d->model;
    mi->name = dam_strdup(model_arg, "meta");
    mi->architecture = dam_strdup(m->arch, "meta");
    mi->n_layers = m->cfg.n_layers;
    mi->n_heads = m->cfg.n_heads;
    mi->n_kv_heads = m->cfg.n_kv_heads;
    mi->head_dim = m->cfg.head_dim;
    mi->context_length = m->cfg.n_ctx_train;
    mi->rope_theta = m->cfg.rope_theta;
    mi->file_sha256 = dam_strdup(m->sha256, "meta");
    mi->quantisation = dam_strdup(m->quant, "meta");
    struct stat st;
    mi->format = dam_strdup(stat(m->path, &st) == 0 && S_ISDIR(st.st_mode) ? "safetensors" : "gguf", "meta");
    mi->d_model = m->cfg.d_model;
    mi->vocab = m->cfg.vocab;
    mi->sliding_window = m->cfg.swa_window;
    mi->rope_theta_swa = m->cfg.swa_window > 0 ? m->cfg.rope_theta_swa : NAN;
    mi->rope_scaling = dam_strdup(m->rope_freq_div ? "rope_freqs" : rope_scaling_name(m->cfg.rope_scaling.type), "meta");
    mi->global_layers = dam_malloc(sizeof(int) * (size_t)m->cfg.n_layers, "meta");
    for (int l = 0; l < m->cfg.n_layers; l++)
        if (m->layers[l].global) mi->global_layers[mi->n_global++] = l;
    /* methods apply to the global layers only; sliding-window layers are part of the model */
    for (int i = 0; i < cfg->n_methods; i++) run_data_add_method(d, cfg->methods[i].name, mi->n_global, mi->global_layers);
}

/* SIGINT / SIGTERM during the cells: the first sets g_stop (the run finishes the cell it is in, writes
 * the results file with every finished cell and exits with 128 + the signal); a second one stops at
 * once (the journal still holds every finished cell: --resume). */
static volatile sig_atomic_t g_stop;

static void on_stop(int sig) {
    if (g_stop) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    g_stop = sig;
    static const char msg[] =
        "\ndam run: interrupted: finishing the current cell, then writing the results file (interrupt again to stop now)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
}

/* The hint for a missing data path: where data comes from, and for a relative path that it is read
 * from the working directory (a config's paths are not relative to the config file). */
static const char *data_hint(const char *path) {
    return path[0] == '/' ? " (`make data` fetches the data sets it can: docs/workloads.md)"
                          : " (`make data` fetches the data sets it can: docs/workloads.md; relative paths are read "
                            "from the working directory: run dam from the project root, or give an absolute path)";
}

/* Fails (one line, exit 2) unless workloads[w].key's path is a readable directory (dir) or a
 * readable file that is not a directory. */
static void check_data_path(const run_config *cfg, int w, const char *key, const char *path, bool dir) {
    struct stat st;
    if (stat(path, &st) != 0)
        dam_die(DAM_EXIT_INPUT, "%s: workloads[%d].%s %s: %s%s", cfg->source, w, key, path, strerror(errno), data_hint(path));
    if (dir != (bool)S_ISDIR(st.st_mode))
        dam_die(DAM_EXIT_INPUT, "%s: workloads[%d].%s %s: %s", cfg->source, w, key, path,
                dir ? "not a directory" : "is a directory, not a file");
    if (access(path, dir ? R_OK | X_OK : R_OK) != 0)
        dam_die(DAM_EXIT_INPUT, "%s: workloads[%d].%s %s: %s", cfg->source, w, key, path, strerror(errno));
}

int run_execute(run_config *cfg, const run_opts *o) {
    const char *output = o->output ? o->output : cfg->output;
    check_writable(output, o->resume, o->overwrite);
    {
        char *jp = journal_path(output);
        if (!o->resume && !o->overwrite && access(jp, F_OK) == 0)
            dam_die(DAM_EXIT_INPUT, "%s: a journal of an earlier run exists; use --resume to continue it or --overwrite", jp);
        if (o->resume && access(jp, F_OK) != 0 && access(output, F_OK) == 0) /* never replace a file we cannot continue */
            dam_die(DAM_EXIT_INPUT, "%s: --resume: no journal %s next to it, so there is nothing to continue (use --overwrite to replace the file)",
                    output, jp);
        dam_free(jp);
    }
    for (int w = 0; w < cfg->n_workloads; w++) { /* fail before the model loads */
        const workload_cfg *wc = &cfg->workloads[w];
        const char *names[3] = {"haystack_dir", "data_dir", "words_dir"}, *dirs[3] = {wc->haystack_dir, wc->data_dir, wc->words_dir};
        for (int k = 0; k < 3; k++)
            if (dirs[k]) check_data_path(cfg, w, names[k], dirs[k], true);
        const char *fnames[3] = {"qa_file", "squad_file", "hotpotqa_file"}, *files[3] = {wc->qa_file, wc->squad_file, wc->hotpotqa_file};
        for (int k = 0; k < 3; k++)
            if (files[k]) check_data_path(cfg, w, fnames[k], files[k], false);
    }
    set_threads(cfg->threads);
    const bool on_gpu = strcmp(cfg->device, "cuda") == 0;
    if (on_gpu) llama_cuda_require_device(); /* before any CPU work that needs it */
    char *path = model_resolve(cfg->model);
    llama_model *m = llama_load(path);
    for (int i = 0; i < cfg->n_methods; i++) method_prepare(&cfg->methods[i], m);
    llama_cuda_model *gpu = NULL;
    if (on_gpu) {
        for (int i = 0; i < cfg->n_methods; i++) attn_ctx_check_cuda(&cfg->methods[i]);
        gpu = llama_cuda_upload(m);
    }

    /* build every example once: identical ids for every method */
    int n_ex = 0;
    example *ex = NULL;
    for (int w = 0; w < cfg->n_workloads; w++) {
        example *part;
        int n_part;
        workload_build(&cfg->workloads[w], m, cfg->seed, &part, &n_part);
        ex = dam_realloc(ex, sizeof(example) * (size_t)(n_ex + n_part), "examples");
        memcpy(ex + n_ex, part, sizeof(example) * (size_t)n_part);
        n_ex += n_part;
        dam_free(part);
    }
    for (int i = 0; i < n_ex; i++)
        if (ex[i].n > m->cfg.n_ctx_train) {
            dam_warn("%s #%d has %d tokens, beyond the model's trained context (%d): its accuracy is not meaningful",
                     ex[i].rec.task, ex[i].rec.index, ex[i].n, m->cfg.n_ctx_train);
            break;
        }
    fprintf(stderr, "dam run: %s (%s), %d layers x %d heads, config %s -> %s, %d examples x %d methods\n", m->name,
            path, m->cfg.n_layers, m->cfg.n_heads, cfg->source, output, n_ex, cfg->n_methods);

    run_data d;
    run_data_init(&d);
    fill_meta(&d, cfg, m, cfg->model);
    store_patterns(&d, cfg);
    char *jpath = journal_path(output);
    journal *j;
    if (o->resume && access(jpath, F_OK) == 0) {
        run_data loaded;
        j = journal_resume(jpath, &d, &loaded);
        run_data_free(&d);
        d = loaded;
        store_patterns(&d, cfg);
        fprintf(stderr, "dam run: resuming from %s (%d results done)\n", jpath, d.n_results);
    } else {
        if (o->resume) dam_warn("%s: no journal to resume; starting the run from the beginning", jpath);
        j = journal_create(jpath, &d);
    }

    for (int i = 0; i < n_ex; i++) {
        const example_record *prev = run_data_find_example(&d, ex[i].rec.task, ex[i].rec.index);
        if (prev == NULL) {
            run_data_add_example(&d, &ex[i].rec);
            journal_append_example(j, &ex[i].rec);
        } else if (strcmp(prev->ids_sha256, ex[i].rec.ids_sha256) != 0) {
            dam_die(DAM_EXIT_INPUT, "%s: example %s #%d has different token ids than in the journal (sha256 %.12s vs %.12s)",
                    jpath, ex[i].rec.task, ex[i].rec.index, ex[i].rec.ids_sha256, prev->ids_sha256);
        }
    }

    results_write_h5(output, &d); /* from here on a readable file exists whatever happens */

    int max_ans = 1;
    for (int i = 0; i < n_ex; i++) max_ans = ex[i].n_answer > max_ans ? ex[i].n_answer : max_ans;
    attn_ctx ctx;
    cell_env env = {m, gpu, cfg, &ctx, dam_malloc(sizeof(float) * m->cfg.vocab * (size_t)max_ans, "reference log-probs"), false};
    const int total = n_ex * cfg->n_methods;
    int done = 0;
    /* progress weighs cells by prompt length (a 4K cell costs ~6x a 1K cell on the CPU) */
    double work_total = 0;
    for (int i = 0; i < n_ex; i++) work_total += (double)ex[i].n * cfg->n_methods;
    progress *pr = progress_start(stderr, o->progress, total, work_total, o->progress_every_s);
    double t_start = now_ms(), t_pub = now_ms();
    struct sigaction stop_act, old_int, old_term;
    memset(&stop_act, 0, sizeof stop_act);
    stop_act.sa_handler = on_stop;
    sigemptyset(&stop_act.sa_mask);
    g_stop = 0;
    sigaction(SIGINT, NULL, &old_int); /* a signal already ignored (a background job, nohup) stays ignored */
    sigaction(SIGTERM, NULL, &old_term);
    if (old_int.sa_handler != SIG_IGN) sigaction(SIGINT, &stop_act, NULL);
    if (old_term.sa_handler != SIG_IGN) sigaction(SIGTERM, &stop_act, NULL);
    for (int i = 0; i < n_ex && !g_stop; i++) {
        env.have_full = false;
        for (int k = 0; k < cfg->n_methods; k++, done++) {
            const method *meth = &cfg->methods[k];
            /* a resumed full-attention cell is recomputed when later methods still need its
               distributions for the logit KL */
            bool have = journal_has_result(&d, meth->name, ex[i].rec.task, ex[i].rec.index);
            bool later_missing = false;
            for (int q = k + 1; q < cfg->n_methods; q++)
                later_missing |= !journal_has_result(&d, cfg->methods[q].name, ex[i].rec.task, ex[i].rec.index);
            if (have && !(method_is_full(meth) && later_missing)) {
                progress_cell_end(pr, ex[i].n, false);
                continue;
            }
            char what[160];
            snprintf(what, sizeof what, "%s on %s #%d, %d tokens", meth->name, ex[i].rec.task, ex[i].rec.index, ex[i].n);
            progress_cell_begin(pr, what);
            attn_ctx_init(&ctx, m, meth);
            result_record r;
            run_cell(&env, meth, &ex[i], &r);
            attn_ctx_free(&ctx);
            if (!have) journal_append_result(j, &r);
            progress_log(pr, "[%3d/%d] %-8s #%-3d L=%-6d depth %.2f  %-10s score %.2f  nll %.3f  density %.3f  prefill %.1f s\n",
                         done + 1, total, ex[i].rec.task, ex[i].rec.index, ex[i].n, ex[i].rec.depth, meth->name, r.score,
                         r.answer_nll, r.density, r.prefill_ms / 1e3);
            progress_cell_end(pr, ex[i].n, true);
            run_data_take_result(&d, &r);
            result_record_free(&r);
            if (g_stop) break;
        }
        if (now_ms() - t_pub > o->publish_every_s * 1e3 || i == n_ex - 1 || g_stop) {
            results_write_h5(output, &d);
            t_pub = now_ms();
        }
    }
    progress_finish(pr);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    int rc = 0;
    if (g_stop) { /* the file holds every finished cell and stays "in progress" (no end time) */
        journal_close(j);
        fprintf(stderr, "dam run: interrupted (%s): wrote %s with %d of %d results; continue with the same command "
                        "and --resume\n", g_stop == SIGINT ? "SIGINT" : "SIGTERM", output, d.n_results, total);
        rc = 128 + g_stop;
    } else {
        char now[32];
        results_utc_now(now);
        dam_free(d.end_time);
        d.end_time = dam_strdup(now, "meta");
        results_write_h5(output, &d);
        journal_close(j);
        summary_print(stdout, &d, output, "full");
        fprintf(stderr, "dam run: wrote %s (%d results, %.0f s)\n", output, d.n_results, (now_ms() - t_start) / 1e3);
    }

    for (int i = 0; i < n_ex; i++) example_free(&ex[i]);
    dam_free(ex);
    dam_free(env.full_logp);
    dam_free(jpath);
    run_data_free(&d);
    llama_cuda_model_free(gpu);
    llama_free(m);
    dam_free(path);
    return rc;
}
