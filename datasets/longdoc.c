/* longdoc.c — see longdoc.h. */
#include "datasets/longdoc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/mem.h"
#include "datasets/jsonl_gz.h"
#include "datasets/longbench.h"
#include "datasets/lveval.h"
#include "datasets/metrics_longbench.h"
#include "datasets/metrics_lveval.h"

const longdoc_spec *longdoc_find(const char *task, const char *name) {
    const bool lv = strcmp(task, "lveval") == 0;
    if (!lv && strcmp(task, "longbench") != 0) return NULL;
    const longdoc_spec *specs = lv ? LVEVAL_SPECS : LONGBENCH_SPECS;
    const int n = lv ? LVEVAL_N_SPECS : LONGBENCH_N_SPECS;
    for (int i = 0; i < n; i++)
        if (strcmp(specs[i].name, name) == 0) return &specs[i];
    return NULL;
}

bool longdoc_is_task(const char *task) {
    return strncmp(task, "longbench.", 10) == 0 || strncmp(task, "longbench_e.", 12) == 0 || strncmp(task, "lveval.", 7) == 0;
}

/* The spec of an example task name ("longbench.hotpotqa", "longbench_e.trec.0-4k",
 * "lveval.factrecall_en_16k"), NULL if none. */
static const longdoc_spec *spec_of_task(const char *task) {
    char name[128];
    if (strncmp(task, "lveval.", 7) == 0) {
        const char *rest = task + 7;
        const longdoc_spec *best = NULL;
        for (int i = 0; i < LVEVAL_N_SPECS; i++) {
            size_t l = strlen(LVEVAL_SPECS[i].name);
            if (strncmp(rest, LVEVAL_SPECS[i].name, l) == 0 && rest[l] == '_' && !strchr(rest + l + 1, '_') &&
                (!best || l > strlen(best->name)))
                best = &LVEVAL_SPECS[i];
        }
        return best;
    }
    const char *rest = strncmp(task, "longbench.", 10) == 0 ? task + 10 : strncmp(task, "longbench_e.", 12) == 0 ? task + 12 : NULL;
    if (!rest) return NULL;
    size_t l = strcspn(rest, ".");
    if (l >= sizeof name) return NULL;
    memcpy(name, rest, l);
    name[l] = 0;
    return longdoc_find("longbench", name);
}

char *longdoc_message(const char *tmpl, const char *context, const char *input) {
    size_t cap = strlen(tmpl) + 1, cl = strlen(context), il = strlen(input);
    for (const char *p = tmpl; (p = strchr(p, '{')); p++) cap += cl + il;
    char *out = dam_malloc(cap, "prompt message");
    size_t k = 0;
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{context}", 9) == 0) memcpy(out + k, context, cl), k += cl, p += 9;
        else if (strncmp(p, "{input}", 7) == 0) memcpy(out + k, input, il), k += il, p += 7;
        else out[k++] = *p++;
    }
    out[k] = 0;
    return out;
}

/* ---- prompt ids under a budget ----------------------------------------------------------------- */

static int32_t *encode(const tokenizer *t, const char *s, bool add_special, bool parse_special, int *n) {
    int32_t *ids = NULL;
    *n = tok_encode(t, s, strlen(s), add_special, parse_special, &ids);
    return ids;
}

static char *concat(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    char *s = dam_malloc(la + lb + 1, "prompt text");
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

/* The style's text around the user message: the rendered chat turn split at the message
 * (empty strings in completion style). */
static void style_parts(const prompt_style *st, char **head, char **tail) {
    if (!st->chat) {
        *head = dam_strdup("", "prompt text"), *tail = dam_strdup("", "prompt text");
        return;
    }
    char *r = chat_render_user(&st->tmpl, "\x01");
    char *mark = strchr(r, '\x01');
    if (mark == NULL || strchr(mark + 1, '\x01')) dam_die(DAM_EXIT_RUNTIME, "longdoc: the chat template does not embed the message once");
    *mark = 0;
    *head = dam_strdup(r, "prompt text");
    *tail = dam_strdup(mark + 1, "prompt text");
    dam_free(r);
}

/* Appends n ids to (*buf, *len). */
static void append(int32_t **buf, int *len, const int32_t *ids, int n) {
    *buf = dam_realloc(*buf, sizeof(int32_t) * (size_t)(*len + n + 1), "prompt ids");
    memcpy(*buf + *len, ids, sizeof(int32_t) * (size_t)n);
    *len += n;
}

static longdoc_ids middle_context(const prompt_style *st, const char *tmpl, const char *context, const char *input,
                                  int max_length, const char *where) {
    longdoc_ids r = {NULL, 0, 0};
    char *msg = longdoc_message(tmpl, context, input);
    r.ids = prompt_ids(st, msg, "", "", &r.n);
    dam_free(msg);
    const char *cpos = strstr(tmpl, "{context}");
    if (r.n <= max_length || cpos == NULL) return r; /* every upstream template has {context} */
    dam_free(r.ids);
    r.ids = NULL, r.n = 0;
    /* [specials BOS] + before {context} + context tokens + after + [specials EOS], in token space */
    const tokenizer *t = st->tok;
    const bool special = st->chat && st->tmpl.format != CHAT_NONE;
    char *before_t = dam_malloc((size_t)(cpos - tmpl) + 1, "template");
    memcpy(before_t, tmpl, (size_t)(cpos - tmpl));
    before_t[cpos - tmpl] = 0;
    char *before_m = longdoc_message(before_t, "", input), *after_m = longdoc_message(cpos + 9, "", input);
    char *head, *tail;
    style_parts(st, &head, &tail);
    char *pre = concat(head, before_m), *post = concat(after_m, tail);
    int n_sp, n_pre, n_post, n_ctx;
    int32_t *sp = encode(t, "", true, false, &n_sp); /* BOS and/or EOS per the model's policy */
    const int lead = n_sp > 0 && sp[0] == tok_bos(t) ? 1 : 0;
    int32_t *pre_ids = encode(t, pre, false, special, &n_pre), *post_ids = encode(t, post, false, special, &n_post);
    int32_t *ctx = encode(t, context, false, false, &n_ctx);
    const int budget = max_length - n_sp - n_pre - n_post;
    if (budget < 2) {
        const int need = n_sp + n_pre + n_post; /* free first: the sanitizer build checks leaks at exit */
        dam_free(sp), dam_free(pre_ids), dam_free(post_ids), dam_free(ctx);
        dam_die(DAM_EXIT_INPUT, "%s: max_length %d cannot hold this prompt: without its context it has %d tokens", where,
                max_length, need);
    }
    append(&r.ids, &r.n, sp, lead);
    append(&r.ids, &r.n, pre_ids, n_pre);
    if (n_ctx <= budget) {
        append(&r.ids, &r.n, ctx, n_ctx);
    } else {
        const int first = budget / 2, last = budget - first;
        append(&r.ids, &r.n, ctx, first);
        append(&r.ids, &r.n, ctx + n_ctx - last, last);
        r.n_cut = n_ctx - budget;
    }
    append(&r.ids, &r.n, post_ids, n_post);
    append(&r.ids, &r.n, sp + lead, n_sp - lead);
    dam_free(before_t), dam_free(before_m), dam_free(after_m), dam_free(head), dam_free(tail), dam_free(pre), dam_free(post);
    dam_free(sp), dam_free(pre_ids), dam_free(post_ids), dam_free(ctx);
    return r;
}

static longdoc_ids middle_prompt(const prompt_style *st, const char *tmpl, const char *context, const char *input,
                                 int max_length) {
    longdoc_ids r = {NULL, 0, 0};
    char *msg = longdoc_message(tmpl, context, input);
    int n_msg;
    int32_t *ids = encode(st->tok, msg, true, false, &n_msg); /* upstream counts BOS */
    if (n_msg > max_length) {
        const int half = max_length / 2;
        char *a = tok_decode(st->tok, ids, half, false), *b = tok_decode(st->tok, ids + n_msg - half, half, false);
        dam_free(msg);
        msg = concat(a, b);
        dam_free(a), dam_free(b);
        r.n_cut = n_msg - 2 * half;
    }
    dam_free(ids);
    r.ids = prompt_ids(st, msg, "", "", &r.n);
    dam_free(msg);
    return r;
}

longdoc_ids longdoc_prompt_ids(const prompt_style *st, const char *tmpl, const char *context, const char *input,
                               int max_length, const char *truncation, const char *where) {
    if (strcmp(truncation, "middle_prompt") == 0) return middle_prompt(st, tmpl, context, input, max_length);
    if (strcmp(truncation, "middle_context") != 0) dam_die(DAM_EXIT_INPUT, "truncation \"%s\" is not one of: middle_context, middle_prompt", truncation);
    return middle_context(st, tmpl, context, input, max_length, where);
}

/* ---- records ----------------------------------------------------------------------------------- */

static const char *field_str(json_t *o, const char *key, const char *path, int line) {
    json_t *v = json_object_get(o, key);
    if (v == NULL) dam_die(DAM_EXIT_INPUT, "%s:%d: missing key \"%s\"", path, line, key);
    if (!json_is_string(v)) dam_die(DAM_EXIT_INPUT, "%s:%d: key \"%s\" must be a string", path, line, key);
    return json_string_value(v);
}

/* A non-empty array of strings: copies into a dam_malloc'd array, count in *n. */
static char **field_strs(json_t *o, const char *key, const char *path, int line, int *n) {
    json_t *v = json_object_get(o, key);
    if (v == NULL) dam_die(DAM_EXIT_INPUT, "%s:%d: missing key \"%s\"", path, line, key);
    if (!json_is_array(v) || json_array_size(v) == 0)
        dam_die(DAM_EXIT_INPUT, "%s:%d: key \"%s\" must be a non-empty array of strings", path, line, key);
    *n = (int)json_array_size(v);
    char **s = dam_malloc(sizeof(char *) * (size_t)*n, key);
    for (int i = 0; i < *n; i++) {
        json_t *e = json_array_get(v, (size_t)i);
        if (!json_is_string(e)) dam_die(DAM_EXIT_INPUT, "%s:%d: key \"%s\"[%d] must be a string", path, line, key, i);
        s[i] = dam_strdup(json_string_value(e), key);
    }
    return s;
}

/* `<dir>/<base>.jsonl`, or the `.jsonl.gz` when only that exists (dam_malloc'd). */
static char *data_path(const char *dir, const char *base) {
    char plain[4096], gz[4096];
    dam_format(plain, sizeof plain, "%s/%s.jsonl", dir, base);
    dam_format(gz, sizeof gz, "%s/%s.jsonl.gz", dir, base);
    return dam_strdup(access(plain, F_OK) != 0 && access(gz, F_OK) == 0 ? gz : plain, "data path");
}

/* The LongBench-E bucket of a record's `length` (eval.py's scorer_e). */
static const char *e_bucket(long long length) { return length < 4000 ? "0-4k" : length < 8000 ? "4-8k" : "8k+"; }

/* Examples grow here; per-task running indices are found by name. */
typedef struct {
    example *ex;
    int n, cap;
} example_list;

static int next_index(const example_list *l, const char *task) {
    int k = 0;
    for (int i = 0; i < l->n; i++) k += strcmp(l->ex[i].rec.task, task) == 0;
    return k;
}

typedef struct {
    const workload_cfg *w;
    const longdoc_spec *spec;
    const prompt_style *chat, *plain;
} file_ctx;

static void build_record(const file_ctx *f, json_t *o, const char *path, int line, int pos, const char *task_base,
                         example_list *l) {
    const longdoc_spec *sp = f->spec;
    const bool lv = strcmp(f->w->task, "lveval") == 0;
    const char *context = field_str(o, "context", path, line), *input = field_str(o, "input", path, line);
    int n_ans;
    char **answers = field_strs(o, "answers", path, line, &n_ans);
    char task[320];
    snprintf(task, sizeof task, "%s", task_base);
    if (f->w->longbench_e) {
        json_t *len = json_object_get(o, "length");
        if (!json_is_integer(len)) dam_die(DAM_EXIT_INPUT, "%s:%d: key \"length\" must be an integer (LongBench-E buckets by it)", path, line);
        snprintf(task, sizeof task, "%s.%s", task_base, e_bucket(json_integer_value(len)));
    }
    for (int i = 0; i < n_ans && (sp->metric == LD_RETRIEVAL || sp->metric == LD_RETRIEVAL_ZH); i++) {
        char *id = lb_retrieval_id(answers[i], sp->metric == LD_RETRIEVAL_ZH);
        if (!id) dam_die(DAM_EXIT_INPUT, "%s:%d: answer \"%s\" has no paragraph number (\"%s<N>\")", path, line, answers[i],
                         sp->metric == LD_RETRIEVAL_ZH ? "段落" : "Paragraph ");
        dam_free(id);
    }
    if (l->n == l->cap) l->ex = dam_realloc(l->ex, sizeof(example) * (size_t)(l->cap = l->cap ? 2 * l->cap : 16), "examples");
    example *e = &l->ex[l->n];
    memset(e, 0, sizeof *e);
    if (sp->metric == LD_CLASSIFICATION) e->others = field_strs(o, "all_classes", path, line, &e->n_others);
    if (lv) {
        json_t *k = json_object_get(o, "answer_keywords");
        if (k && !json_is_null(k) && !json_is_string(k))
            dam_die(DAM_EXIT_INPUT, "%s:%d: key \"answer_keywords\" must be a string or null", path, line);
        if (json_is_string(k) && *json_string_value(k)) {
            e->others = dam_malloc(sizeof(char *), "keywords");
            e->others[0] = dam_strdup(json_string_value(k), "keywords");
            e->n_others = 1;
        }
    }
    const prompt_style *st = sp->no_chat ? f->plain : f->chat;
    char where[4200];
    snprintf(where, sizeof where, "%s:%d", path, line);
    longdoc_ids p = longdoc_prompt_ids(st, sp->prompt, context, input, f->w->max_length, f->w->truncation, where);
    e->ids = p.ids, e->n = p.n;
    /* answer NLL target: the first answer, after a space where the prompt ends like "Answer:" */
    char *msg = longdoc_message(sp->prompt, context, input);
    size_t ml = strlen(msg);
    const unsigned char last = ml ? (unsigned char)msg[ml - 1] : 0;
    const bool templated = st->chat && st->tmpl.format != CHAT_NONE;
    const bool space = !templated && last > ' ' && last < 0x7F;
    char *gold = concat(space ? " " : "", answers[0]);
    e->answer_ids = prompt_text_ids(st->tok, gold, &e->n_answer);
    dam_free(gold), dam_free(msg);
    e->rec.task = dam_strdup(task, "task");
    e->rec.index = next_index(l, task);
    example_set_refs(e, answers, n_ans);
    e->rec.target_len = f->w->max_length;
    e->rec.n_tokens = e->n;
    e->rec.n_truncated = p.n_cut;
    e->rec.depth = -1;
    e->rec.sample = pos;
    e->max_new = sp->max_new;
    ids_sha256(e->ids, e->n, e->rec.ids_sha256);
    l->n++;
}

void longdoc_build(const workload_cfg *w, const llama_model *m, example **out, int *n_out) {
    const bool lv = strcmp(w->task, "lveval") == 0;
    prompt_style chat = prompt_style_init(m, w->prompt), plain = prompt_style_init(m, "completion");
    example_list l = {NULL, 0, 0};
    for (int d = 0; d < w->n_datasets; d++) {
        file_ctx f = {w, longdoc_find(w->task, w->datasets[d]), &chat, &plain};
        if (f.spec == NULL) dam_die(DAM_EXIT_INPUT, "%s: unknown dataset \"%s\"", w->task, w->datasets[d]);
        const int n_files = lv ? w->n_levels : 1;
        for (int k = 0; k < n_files; k++) {
            char base[256], task[280];
            if (lv) snprintf(base, sizeof base, "%s_%s", w->datasets[d], w->levels[k]);
            else snprintf(base, sizeof base, "%s%s", w->datasets[d], w->longbench_e ? "_e" : "");
            snprintf(task, sizeof task, "%s.%s", lv ? "lveval" : w->longbench_e ? "longbench_e" : "longbench", lv ? base : w->datasets[d]);
            char *path = data_path(w->data_dir, base);
            int nr, *lines;
            json_t **recs = jsonl_read_lines(path, w->samples, &nr, &lines);
            if (nr == 0) dam_die(DAM_EXIT_INPUT, "%s: no records", path);
            if (w->samples > 0 && nr < w->samples) dam_die(DAM_EXIT_INPUT, "%s: has %d records, samples asks for %d", path, nr, w->samples);
            for (int r = 0; r < nr; r++) build_record(&f, recs[r], path, lines[r], r, task, &l);
            jsonl_free(recs, nr);
            dam_free(lines);
            dam_free(path);
        }
    }
    for (int i = 0; i < l.n; i++) /* room for generation */
        if (l.ex[i].n + l.ex[i].max_new > m->cfg.n_ctx_train) {
            dam_warn("%s #%d: %d prompt + %d new tokens exceed the model's trained context (%d): lower max_length",
                     l.ex[i].rec.task, l.ex[i].rec.index, l.ex[i].n, l.ex[i].max_new, m->cfg.n_ctx_train);
            break;
        }
    prompt_style_free(&chat);
    prompt_style_free(&plain);
    *out = l.ex;
    *n_out = l.n;
}

/* ---- scoring ----------------------------------------------------------------------------------- */

static double metric(const longdoc_spec *sp, const example *e, const char *pred, const char *gold) {
    const char *keywords = e->n_others > 0 ? e->others[0] : NULL;
    switch (sp->metric) {
    case LD_QA_F1: return lb_qa_f1(pred, gold);
    case LD_QA_F1_ZH: return lb_qa_f1_zh(pred, gold);
    case LD_ROUGE: return lb_rouge(pred, gold);
    case LD_ROUGE_ZH: return lb_rouge_zh(pred, gold);
    case LD_CLASSIFICATION: return lb_classification(pred, gold, e->others, e->n_others);
    case LD_RETRIEVAL: return lb_retrieval(pred, gold, 0);
    case LD_RETRIEVAL_ZH: return lb_retrieval(pred, gold, 1);
    case LD_COUNT: return lb_count(pred, gold);
    case LD_CODE_SIM: return lb_code_sim(pred, gold);
    case LD_F1_KEYWORDS: return lv_f1_keywords(pred, gold, keywords);
    case LD_F1_KEYWORDS_ZH: return lv_f1_keywords_zh(pred, gold, keywords);
    case LD_ROUGE_ZH_BLACKLIST: return lv_rouge_zh_blacklist(pred, gold);
    }
    return 0.0;
}

double longdoc_score(const example *e, const char *prediction) {
    const longdoc_spec *sp = spec_of_task(e->rec.task);
    if (sp == NULL) dam_die(DAM_EXIT_RUNTIME, "longdoc: no dataset for task \"%s\"", e->rec.task);
    char *pred = sp->first_line ? lb_first_line(prediction) : dam_strdup(prediction, "prediction");
    double best = 0.0;
    const int n = sp->first_answer && e->n_refs > 1 ? 1 : e->n_refs;
    for (int i = 0; i < n; i++) {
        double s = metric(sp, e, pred, e->refs[i]);
        if (s > best) best = s;
    }
    dam_free(pred);
    return best;
}
