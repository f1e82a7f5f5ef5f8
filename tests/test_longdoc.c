/* test_longdoc.c — the long-document QA workloads (datasets/longdoc.h) and their metrics
 * (datasets/metrics_text.h, metrics_longbench.h, metrics_lveval.h):
 *  - every scorer on hand-made predictions with the value worked out by hand in a comment (edge
 *    cases: an answer split across tokens by punctuation, Unicode, empty predictions, the rouge
 *    package's sentence split and distinct-word counts, fuzzywuzzy's round-half-even, difflib's
 *    autojunk, classification's remove-while-iterating, LV-Eval's keyword gate and first answer);
 *    values marked "difflib" were computed once with CPython 3 difflib.SequenceMatcher;
 *  - the workload keys (defaults in the resolved config, refusals exit 2 naming the key);
 *  - with the real model on the fixtures tests/fixtures/{longbench,lveval}/ (hand-made records):
 *    the prompt text of each template family against the template written out here; the
 *    middle truncation (exactly max_length tokens, first and last halves of the context's own
 *    tokens, the question intact; and upstream's whole-prompt rule); LongBench-E buckets; gzip
 *    files; malformed files exiting 2 with one line naming file and line; scoring of built
 *    examples (max over answers; LV-Eval's first answer only). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "core/mem.h"
#include "datasets/longdoc.h"
#include "datasets/metrics_longbench.h"
#include "datasets/metrics_lveval.h"
#include "datasets/metrics_text.h"
#include "harness/config.h"
#include "model/llama.h"
#include "test.h"
#include "test_child.h"

static char tmpdir[] = "/tmp/test_longdoc_XXXXXX";
#define FIX "tests/fixtures"


static double f1_of(const char *pred, const char *gold) { return lb_qa_f1(pred, gold); }

static void test_normalisation(void) {
    char *s = text_norm_squad("The Cat's  hat, an apple!");
    /* lower -> "the cat's  hat, an apple!"; punctuation out -> "the cats  hat an apple";
       articles -> " cats  hat   apple"; whitespace -> "cats hat apple" */
    CHECK(strcmp(s, "cats hat apple") == 0, "squad \"%s\"", s);
    dam_free(s);
    s = text_norm_squad("anthem theatre A_the an-the");
    /* "an"/"the" inside words stay; '_' is punctuation -> "athe"; '-' -> "anthe" */
    CHECK(strcmp(s, "anthem theatre athe anthe") == 0, "squad words \"%s\"", s);
    dam_free(s);
    s = text_norm_squad("RÖNTGEN\u00a0the\u3000Élan");
    /* Ö -> ö, É -> é; U+00A0 and U+3000 are whitespace; "the" between them is an article */
    CHECK(strcmp(s, "röntgen élan") == 0, "squad unicode \"%s\"", s);
    dam_free(s);
    s = text_norm_squad("theé aé");
    /* é is a word character (Python's Unicode \w): "the" and "a" are not whole words here */
    CHECK(strcmp(s, "theé aé") == 0, "squad word boundary \"%s\"", s);
    dam_free(s);
    s = text_norm_zh("北京，大学。 ABC《书》");
    /* lower; '，' '。' '》' are in LongBench's list, '《' is not (upstream's list lacks it); spaces go */
    CHECK(strcmp(s, "北京大学abc《书") == 0, "zh \"%s\"", s);
    dam_free(s);
    uint32_t *cp;
    int n = text_utf8_decode("a\xc3(\xe4\xb8\xad", &cp);
    /* 'a', a lone lead byte -> U+FFFD, '(', U+4E2D */
    CHECK(n == 4 && cp[0] == 'a' && cp[1] == 0xFFFD && cp[2] == '(' && cp[3] == 0x4E2D, "utf-8 decode: %d", n);
    dam_free(cp);
}

static void test_f1(void) {
    /* pred [eiffel, tower, in, paris] vs gold [eiffel, tower]: 2 common, P = 2/4, R = 2/2,
       F1 = 2 * 0.5 * 1 / 1.5 = 2/3 */
    CHECK_NEAR(f1_of("the Eiffel Tower in Paris", "Eiffel Tower"), 2.0 / 3, 1e-15, 0, "f1 basic");
    /* answer split across tokens: '-' is removed, so "New-York" is the one token "newyork" */
    CHECK(f1_of("New-York", "New York") == 0.0, "f1 split by punctuation");
    /* multiset: pred [x, y, y, z], gold [y, y, y]: common min(2, 3) = 2, P = 2/4, R = 2/3,
       F1 = 2 * (1/2)(2/3) / (1/2 + 2/3) = 4/7 */
    CHECK_NEAR(f1_of("x y y z", "y y y"), 4.0 / 7, 1e-15, 0, "f1 multiset");
    CHECK(f1_of("Wilhelm Conrad Röntgen", "wilhelm conrad RÖNTGEN") == 1.0, "f1 unicode case");
    CHECK(f1_of("", "Paris") == 0.0 && f1_of("Paris", "") == 0.0 && f1_of("the", "a") == 0.0, "f1 empty");
    /* zh: characters [北, 京, 大, 学] vs [北, 京]: P = 2/4, R = 1, F1 = 2/3 */
    CHECK_NEAR(lb_qa_f1_zh("北京大学。", "北京"), 2.0 / 3, 1e-15, 0, "zh f1");
    CHECK(lb_qa_f1_zh("", "北京") == 0.0, "zh f1 empty");
}

static void test_rouge(void) {
    /* one sentence each; distinct words: hyp {the, cat, sat, on, mat} = 5, ref {the, cat, lay, on,
       mat} = 5; LCS "the cat on the mat", its words {the, cat, on, mat} = 4; R = P = 4/5;
       F = 2 (0.64) / (1.6 + 1e-8) = 0.799999995 */
    CHECK_NEAR(lb_rouge("the cat sat on the mat", "the cat lay on the mat"), 1.28 / (1.6 + 1e-8), 1e-15, 0, "rouge basic");
    /* ref "a b. c d" is two sentences [a b], [c d]; hyp [a c d]; LCS with s1 {a}, with s2 {c, d};
       union 3; m = |{a, b, c, d}| = 4, n = 3: R = 3/4, P = 1, F = 1.5 / (1.75 + 1e-8) */
    CHECK_NEAR(lb_rouge("a c d", "a b. c d"), 1.5 / (1.75 + 1e-8), 1e-15, 0, "rouge sentences");
    /* identical: R = P = 1, F = 2 / (2 + 1e-8) */
    CHECK_NEAR(lb_rouge("Same words here.", "Same words here."), 2.0 / (2 + 1e-8), 1e-15, 0, "rouge identical");
    /* repeated words count once: hyp [x x x] (n = 1), ref [x y] (m = 2): union {x}: R = 1/2, P = 1,
       F = 1 / (1.5 + 1e-8) */
    CHECK_NEAR(lb_rouge("x x x", "x y"), 1.0 / (1.5 + 1e-8), 1e-15, 0, "rouge distinct words");
    /* empty prediction, only dots: no sentence (upstream raises, LongBench scores 0) */
    CHECK(lb_rouge("", "x") == 0.0 && lb_rouge("...", "x") == 0.0 && lb_rouge("x", "") == 0.0, "rouge empty");
    /* zh: "我 爱 北 京" vs "我 爱 上 海": union {我, 爱} = 2, m = n = 4, F = 2 (0.25) / (1 + 1e-8) */
    CHECK_NEAR(lb_rouge_zh("我爱北京", "我爱上海"), 0.5 / (1 + 1e-8), 1e-15, 0, "rouge zh");
}

static void test_edit_similarity(void) {
    /* "x = 1" vs "x = 2": matching block "x = " (4); ratio 2 * 4 / 10 = 0.8 -> 80 */
    CHECK(text_seq_ratio("x = 1", "x = 2") == 0.8 && text_fuzz_ratio("x = 1", "x = 2") == 80, "ratio basic");
    /* "abcdefgh" vs "abcdeXYZ": block "abcde"; 2 * 5 / 16 = 0.625; 62.5 rounds half to even: 62 */
    CHECK(text_seq_ratio("abcdefgh", "abcdeXYZ") == 0.625 && text_fuzz_ratio("abcdefgh", "abcdeXYZ") == 62, "round half even");
    /* code points, not bytes: "naïve" vs "naive": "na" + "ve" = 4 of 10 -> 0.8 */
    CHECK(text_seq_ratio("naïve", "naive") == 0.8, "ratio unicode");
    /* difflib: 0.8941176470588236 (M = 38, T = 85) -> 89 */
    CHECK(text_fuzz_ratio("    result = compute(alpha, beta) + offset", "    result = compute(alpha, gamma) - offset") == 89,
          "ratio code line");
    /* autojunk: b has 220 >= 200 characters, ' ' '=' 'x' ';' ... occur more than 220/100 + 1 = 3 times,
       so they cannot start a match: difflib gives 16/241 (0.1494 without autojunk) */
    char b[256] = "";
    for (int i = 0; i < 20; i++) strcat(b, "x = x + 1; ");
    CHECK(text_seq_ratio("x = x + 2; y = y + 1;", b) == 16.0 / 241, "autojunk %.17g", text_seq_ratio("x = x + 2; y = y + 1;", b));
    CHECK(text_fuzz_ratio("", "") == 100 && text_fuzz_ratio("", "a") == 0 && text_seq_ratio("", "") == 1.0, "ratio empty");
    /* code_sim: the first line without ` # // after leading newlines */
    CHECK(lb_code_sim("\n# a comment\n    return a - b\nmore", "    return a - b") == 1.0, "code sim skips comments");
    CHECK(lb_code_sim("// c\n```\nx = 1", "x = 2") == 0.8, "code sim // and fences");
    CHECK(lb_code_sim("", "x = 2") == 0.0 && lb_code_sim("# only", "x") == 0.0, "code sim empty");
}

static void test_longbench_metrics(void) {
    char *classes[] = {"Hu", "Human", "Human being", "Location"};
    /* matches [Human, Human being] (after "Hu" which is not in this list): "Human" is a strict
       substring of the gold -> removed -> [Human being]: 1/1 */
    CHECK(lb_classification("Human being", "Human being", classes + 1, 3) == 1.0, "classification substring");
    /* matches [Human, Human being, Location]; Human removed -> 2 left, gold among them: 1/2 */
    CHECK(lb_classification("Location or Human being", "Human being", classes + 1, 3) == 0.5, "classification two");
    /* upstream's loop removes while iterating: [Hu, Human, Human being]: "Hu" is removed at i = 0,
       the list shifts and i = 1 is now "Human being", so "Human" survives: 1/2 (not 1) */
    CHECK(lb_classification("Human being", "Human being", classes, 4) == 0.5, "classification remove-while-iterating");
    CHECK(lb_classification("Entity", "Location", classes, 4) == 0.0 && lb_classification("", "Location", classes, 4) == 0.0,
          "classification miss");
    /* retrieval: digit runs of the prediction equal to the gold number, over all runs */
    CHECK(lb_retrieval("Paragraph 12", "Paragraph 12", 0) == 1.0, "retrieval");
    CHECK(lb_retrieval("Paragraph 3 or Paragraph 12", "Paragraph 12", 0) == 0.5, "retrieval half");
    CHECK(lb_retrieval("Paragraph 012", "Paragraph 12", 0) == 0.0 && lb_retrieval("none", "Paragraph 1", 0) == 0.0, "retrieval miss");
    CHECK(lb_retrieval("答案是段落5", "段落5", 1) == 1.0 && lb_retrieval("段落5", "Paragraph 5", 1) == 0.0, "retrieval zh");
    char *id = lb_retrieval_id("see Paragraph x then Paragraph 27", 0);
    CHECK(id && strcmp(id, "27") == 0, "retrieval id skips a Paragraph without digits");
    dam_free(id);
    /* count: runs [7, 10], one equals "7": 1/2 */
    CHECK(lb_count("There are 7 unique paragraphs out of 10", "7") == 0.5 && lb_count("seven", "7") == 0.0, "count");
    char *l = lb_first_line("\n\nLocation\nQuestion: next");
    CHECK(strcmp(l, "Location") == 0, "first line \"%s\"", l);
    dam_free(l);
}

static void test_lveval_metrics(void) {
    /* pred [he, was, born, in, 1961, in, paris] (7), keywords [1961]: recall 1; F1 against [1961]:
       P = 1/7, R = 1, F1 = 2 (1/7) / (8/7) = 1/4 */
    CHECK_NEAR(lv_f1_keywords("He was born in 1961 in Paris", "1961", "1961"), 0.25, 1e-15, 0, "kw f1");
    /* keywords [services, to, music]; common with pred {services, to} but "to" is blacklisted:
       recall 1/3 >= 0.2; F1 of [for, services, to, medicine] vs [for, his, services, to, music]:
       3 common, P = 3/4, R = 3/5, F1 = 0.9 / 1.35 = 2/3 */
    CHECK_NEAR(lv_f1_keywords("For services to Medicine", "For his services to music", "services to music"), 2.0 / 3, 1e-15, 0,
               "kw blacklist");
    /* the gate: keyword "2020" absent -> 0, although plain F1 is positive */
    const char *gold = "Martin began independent publishing her books as digital books in 2020.";
    CHECK(lv_f1_keywords("Martin published digital books", gold, "2020") == 0.0 && lb_qa_f1("Martin published digital books", gold) > 0.3,
          "kw gate");
    /* recall exactly 1/5 = 0.2 is not below the threshold: F1 of [a1] vs [a1]: 1 */
    CHECK(lv_f1_keywords("a1", "a1", "a1 b1 c1 d1 e1") == 1.0, "kw threshold inclusive");
    /* no or empty keywords: plain F1 */
    CHECK(lv_f1_keywords("Paris", "Paris", NULL) == 1.0 && lv_f1_keywords("Paris", "Paris", "") == 1.0, "kw absent");
    /* zh falls back to the answer: [贝, 克, 汉, 姆] vs [贝, 多, 芬]: recall 1/3 < 0.4 -> 0 */
    CHECK(lv_f1_keywords_zh("贝克汉姆", "贝多芬", NULL) == 0.0 && lv_f1_keywords_zh("贝多芬。", "贝多芬", "") == 1.0, "kw zh");
    /* the blacklisted character 的 does not count: recall 0 */
    CHECK(lv_f1_keywords_zh("的", "的书", "的书") == 0.0, "kw zh blacklist");
    /* dureader: "我 书" vs "我 笔" after removing 的: F = 2 (0.25) / (1 + 1e-8) */
    CHECK_NEAR(lv_rouge_zh_blacklist("我的书", "我的笔"), 0.5 / (1 + 1e-8), 1e-15, 0, "rouge zh blacklist");
    int n = 0;
    while (LV_BLACKLIST_EN[n]) n++;
    CHECK(n == 38, "English blacklist: %d words", n);
}

static void test_message(void) {
    char *m = longdoc_message("A {context}|{input}|{context} {x}", "C", "I");
    CHECK(strcmp(m, "A C|I|C {x}") == 0, "message \"%s\"", m);
    dam_free(m);
}

/* ---- config ---------------------------------------------------------------------------------- */

static void parse_only(const char *text) {
    run_config c;
    config_parse(text, "t.json", NULL, 0, &c);
}

static void expect_config_error(const char *workload, const char *want) {
    char text[1024], msg[1024];
    snprintf(text, sizeof text, "{\"workloads\": [%s], \"methods\": [{\"method\": \"full\"}]}", workload);
    int lines, st = test_child(parse_only, text, tmpdir, msg, sizeof msg, &lines);
    CHECK(st == 2 && lines == 1 && strstr(msg, want), "%s: exit %d: %s", workload, st, msg);
}

static void test_config(void) {
    run_config c;
    config_parse("{\"workloads\": [{\"task\": \"longbench\", \"datasets\": [\"hotpotqa\", \"trec\"]},"
                 " {\"task\": \"lveval\", \"datasets\": [\"factrecall_en\"], \"levels\": [\"16k\", \"32k\"], \"samples\": 5,"
                 "  \"prompt\": \"completion\", \"truncation\": \"middle_prompt\", \"max_length\": 15500}],"
                 " \"methods\": [{\"method\": \"full\"}]}",
                 "t.json", NULL, 0, &c);
    const workload_cfg *b = &c.workloads[0], *v = &c.workloads[1];
    CHECK(b->n_datasets == 2 && strcmp(b->datasets[1], "trec") == 0 && b->max_length == 7500 && b->samples == 0 &&
              strcmp(b->prompt, "chat") == 0 && strcmp(b->truncation, "middle_context") == 0 &&
              strcmp(b->data_dir, "data/longbench") == 0 && b->longbench_e == 0 && b->n_levels == 0,
          "longbench defaults");
    CHECK(v->n_levels == 2 && strcmp(v->levels[1], "32k") == 0 && v->samples == 5 && v->max_length == 15500 &&
              strcmp(v->truncation, "middle_prompt") == 0 && strcmp(v->data_dir, "data/lveval") == 0,
          "lveval keys");
    CHECK(strstr(c.resolved_json, "\"truncation\": \"middle_context\"") && strstr(c.resolved_json, "\"max_length\": 7500") &&
              strstr(c.resolved_json, "\"longbench_e\": false") && strstr(c.resolved_json, "\"levels\": ["),
          "resolved config:\n%s", c.resolved_json);
    config_free(&c);
    expect_config_error("{\"task\": \"longbench\"}", "workloads[0].datasets: required key is missing");
    expect_config_error("{\"task\": \"longbench\", \"datasets\": [\"hotpot\"]}", "workloads[0].datasets[0]: \"hotpot\" is not a LongBench dataset");
    expect_config_error("{\"task\": \"longbench\", \"datasets\": [\"trec\", \"trec\"]}", "datasets[1]: \"trec\" appears twice");
    expect_config_error("{\"task\": \"longbench\", \"datasets\": [\"musique\"], \"longbench_e\": true}",
                        "\"musique\" is not a LongBench-E dataset");
    expect_config_error("{\"task\": \"longbench\", \"datasets\": [\"trec\"], \"max_new_tokens\": 8}",
                        "workloads[0].max_new_tokens: does not apply to longbench");
    expect_config_error("{\"task\": \"longbench\", \"datasets\": [\"trec\"], \"levels\": [\"16k\"]}", "workloads[0].levels: only applies to task lveval");
    expect_config_error("{\"task\": \"longbench\", \"datasets\": [\"trec\"], \"lengths\": [512]}", "workloads[0].lengths: does not apply to task longbench");
    expect_config_error("{\"task\": \"longbench\", \"datasets\": [\"trec\"], \"truncation\": \"left\"}",
                        "truncation: \"left\" is not one of: middle_context, middle_prompt");
    expect_config_error("{\"task\": \"longbench\", \"datasets\": [\"trec\"], \"max_length\": 10}", "max_length: 10 is out of range");
    expect_config_error("{\"task\": \"lveval\", \"datasets\": [\"factrecall_en\"]}", "workloads[0].levels: required key is missing");
    expect_config_error("{\"task\": \"lveval\", \"datasets\": [\"factrecall_en\"], \"levels\": [\"16K\"]}", "levels[0]: \"16K\" is not a length level");
    expect_config_error("{\"task\": \"lveval\", \"datasets\": [\"hotpotqa\"], \"levels\": [\"16k\"]}", "\"hotpotqa\" is not a LV-Eval dataset");
    expect_config_error("{\"task\": \"lveval\", \"datasets\": [\"cmrc_mixup\"], \"levels\": [\"16k\"], \"longbench_e\": true}",
                        "longbench_e: only applies to task longbench");
    expect_config_error("{\"task\": \"lveval\", \"datasets\": [\"cmrc_mixup\"], \"levels\": [\"16k\"], \"colour\": 1}", "colour: unknown key");
}

/* ---- with the model ---------------------------------------------------------------------------- */

static const llama_model *g_model;

static workload_cfg base_cfg(const char *task, const char *dir, char **datasets, int n, char **levels, int nl) {
    workload_cfg w = {.task = (char *)task, .data_dir = (char *)dir, .n_datasets = n, .datasets = datasets, .n_levels = nl,
                      .levels = levels, .max_length = 7500, .prompt = "chat", .truncation = "middle_context"};
    return w;
}

static void build_free(example *ex, int n) {
    for (int i = 0; i < n; i++) example_free(&ex[i]);
    dam_free(ex);
}

static void build_cfg(const char *arg) { /* arg: a workload_cfg * passed as const char * */
    example *ex;
    int n;
    longdoc_build((const workload_cfg *)(const void *)arg, g_model, &ex, &n);
}

static char *decode(const int32_t *ids, int n) { return tok_decode(g_model->tok, ids, n, true); }

static const char *CHATML_HEAD = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                                 "<|im_start|>user\n";
static const char *CHATML_TAIL = "<|im_end|>\n<|im_start|>assistant\n";

/* A JSONL record's string field, read independently of the loader. */
static char *record_field(const char *path, int line, const char *key) {
    FILE *f = fopen(path, "r");
    static char buf[1 << 16];
    char *out = NULL;
    for (int k = 1; f && fgets(buf, sizeof buf, f); k++)
        if (k == line) {
            json_t *o = json_loads(buf, 0, NULL);
            out = dam_strdup(json_string_value(json_object_get(o, key)), "field");
            json_decref(o);
        }
    if (f) fclose(f);
    return out;
}

/* Checks that example e's ids decode to want and are the canonical tokenisation of it. */
static void check_prompt(const example *e, const char *want, bool special, const char *what) {
    char *got = decode(e->ids, e->n);
    CHECK(strcmp(got, want) == 0, "%s prompt:\n--- got ---\n%s\n--- want ---\n%s", what, got, want);
    int32_t *ids;
    int n = tok_encode(g_model->tok, want, strlen(want), true, special, &ids);
    CHECK(n == e->n && memcmp(ids, e->ids, sizeof(int32_t) * (size_t)n) == 0, "%s: ids are not the tokenisation of the text", what);
    CHECK(e->rec.n_truncated == 0 && e->rec.n_tokens == e->n, "%s: record", what);
    dam_free(ids);
    dam_free(got);
}

static void test_prompts(void) {
    char *lb[] = {"hotpotqa", "trec", "passage_retrieval_en", "multifieldqa_zh", "lcc"};
    workload_cfg w = base_cfg("longbench", FIX "/longbench", lb, 5, NULL, 0);
    example *ex;
    int n;
    longdoc_build(&w, g_model, &ex, &n);
    CHECK(n == 3 + 2 + 1 + 1 + 1, "%d longbench examples", n);
    static char want[1 << 15];
    /* hotpotqa record 3 in chat style: upstream's template (../shared/docs/workloads.md §6) as
       the user turn of SmolLM2's ChatML template */
    char *ctx = record_field(FIX "/longbench/hotpotqa.jsonl", 3, "context"), *in = record_field(FIX "/longbench/hotpotqa.jsonl", 3, "input");
    snprintf(want, sizeof want,
             "%sAnswer the question based on the given passages. Only give me the answer and do not output any other words.\n\n"
             "The following are given passages.\n%s\n\nAnswer the question based on the given passages. Only give me the "
             "answer and do not output any other words.\n\nQuestion: %s\nAnswer:%s",
             CHATML_HEAD, ctx, in, CHATML_TAIL);
    check_prompt(&ex[2], want, true, "hotpotqa chat");
    CHECK(strcmp(ex[2].rec.task, "longbench.hotpotqa") == 0 && ex[2].rec.index == 2 && ex[2].rec.sample == 2 &&
              ex[2].rec.target_len == 7500 && ex[2].rec.depth == -1 && ex[2].max_new == 32 && strcmp(ex[2].rec.answer, "[\"1962\"]") == 0,
          "hotpotqa record: %s #%d, answer %s", ex[2].rec.task, ex[2].rec.index, ex[2].rec.answer);
    char *gold = decode(ex[2].answer_ids, ex[2].n_answer);
    CHECK(strcmp(gold, "1962") == 0, "chat answer target \"%s\" (no space after the assistant header)", gold);
    dam_free(gold), dam_free(ctx), dam_free(in);
    CHECK(strcmp(ex[1].rec.answer, "[\"Edwin Tolley\",\"Tolley\"]") == 0 && ex[1].n_refs == 2, "answers as a JSON array: %s", ex[1].rec.answer);
    /* trec: never in a chat template (pred.py), even in chat style */
    ctx = record_field(FIX "/longbench/trec.jsonl", 1, "context"), in = record_field(FIX "/longbench/trec.jsonl", 1, "input");
    snprintf(want, sizeof want, "Please determine the type of the question below. Here are some examples of questions.\n\n%s\n%s", ctx, in);
    check_prompt(&ex[3], want, false, "trec");
    gold = decode(ex[3].answer_ids, ex[3].n_answer);
    CHECK(strcmp(gold, " Location") == 0 && ex[3].max_new == 64 && ex[3].n_others == 6, "trec target \"%s\", %d classes", gold, ex[3].n_others);
    dam_free(gold), dam_free(ctx), dam_free(in);
    /* passage_retrieval_en (§6 quote) in chat style */
    ctx = record_field(FIX "/longbench/passage_retrieval_en.jsonl", 1, "context");
    in = record_field(FIX "/longbench/passage_retrieval_en.jsonl", 1, "input");
    snprintf(want, sizeof want,
             "%sHere are 30 paragraphs from Wikipedia, along with an abstract. Please determine which paragraph the abstract is "
             "from.\n\n%s\n\nThe following is an abstract.\n\n%s\n\nPlease enter the number of the paragraph that the abstract is "
             "from. The answer format must be like \"Paragraph 1\", \"Paragraph 2\", etc.\n\nThe answer is: %s",
             CHATML_HEAD, ctx, in, CHATML_TAIL);
    check_prompt(&ex[5], want, true, "passage_retrieval_en");
    dam_free(ctx), dam_free(in);
    /* multifieldqa_zh */
    ctx = record_field(FIX "/longbench/multifieldqa_zh.jsonl", 1, "context");
    in = record_field(FIX "/longbench/multifieldqa_zh.jsonl", 1, "input");
    snprintf(want, sizeof want, "%s阅读以下文字并用中文简短回答：\n\n%s\n\n现在请基于上面的文章回答下面的问题，只告诉我答案，不要输出任何其他字词。\n\n问题：%s\n回答：%s",
             CHATML_HEAD, ctx, in, CHATML_TAIL);
    check_prompt(&ex[6], want, true, "multifieldqa_zh");
    dam_free(ctx), dam_free(in);
    /* lcc: code completion, no template, {context} directly followed by the instruction */
    ctx = record_field(FIX "/longbench/lcc.jsonl", 1, "context");
    snprintf(want, sizeof want, "Please complete the code given below. \n%sNext line of code:\n", ctx);
    check_prompt(&ex[7], want, false, "lcc");
    gold = decode(ex[7].answer_ids, ex[7].n_answer);
    CHECK(strcmp(gold, "    return a - b") == 0, "lcc target \"%s\" (the prompt ends with a newline: no space)", gold);
    dam_free(gold), dam_free(ctx);
    /* scoring of built examples: the first line for trec; the best answer for hotpotqa */
    CHECK(longdoc_score(&ex[3], "\n\nLocation\nQuestion: Where") == 1.0 && longdoc_score(&ex[3], "Entity") == 0.0, "trec score");
    CHECK(longdoc_score(&ex[1], "Tolley") == 1.0, "max over answers (F1 2/3 against \"Edwin Tolley\", 1 against \"Tolley\")");
    CHECK(longdoc_score(&ex[5], "Paragraph 2") == 1.0 && longdoc_score(&ex[7], "    return a - b") == 1.0 &&
              longdoc_score(&ex[6], "1742年") == 1.0, "retrieval / code / zh scores");
    build_free(ex, n);

    /* LV-Eval in completion style: factrecall_en's template, the answer after "Answer:" with a space */
    char *lv[] = {"factrecall_en", "hotpotwikiqa_mixup", "cmrc_mixup"}, *lvl[] = {"16k"};
    w = base_cfg("lveval", FIX "/lveval", lv, 3, lvl, 1);
    w.prompt = "completion";
    longdoc_build(&w, g_model, &ex, &n);
    CHECK(n == 2 + 2 + 1, "%d lveval examples", n);
    ctx = record_field(FIX "/lveval/factrecall_en_16k.jsonl", 1, "context"), in = record_field(FIX "/lveval/factrecall_en_16k.jsonl", 1, "input");
    snprintf(want, sizeof want,
             "Please answer the following questions based on the given article.\n\nArticle: %s\n\nPlease answer the following "
             "questions based on the above article.\n\nQuestion: %s\nAnswer:", ctx, in);
    check_prompt(&ex[0], want, false, "factrecall_en completion");
    gold = decode(ex[0].answer_ids, ex[0].n_answer);
    CHECK(strcmp(gold, " Ludwig Beethoven") == 0 && ex[0].max_new == 16 && strcmp(ex[0].rec.task, "lveval.factrecall_en_16k") == 0,
          "factrecall target \"%s\", task %s", gold, ex[0].rec.task);
    dam_free(gold), dam_free(ctx), dam_free(in);
    CHECK(longdoc_score(&ex[0], "Ludwig Beethoven.") == 1.0 && longdoc_score(&ex[1], "David Beckham") == 0.0, "factrecall score");
    /* first answer only: pred [paris, city, of, light] vs "Paris": P = 1/4, R = 1, F1 = 0.4 (against
       "City of Light" it would be 6/7); the keyword gate (Paris) passes */
    CHECK_NEAR(longdoc_score(&ex[2], "Paris, the City of Light"), 0.4, 1e-15, 0, "LV-Eval scores the first answer only");
    CHECK(ex[2].n_others == 1 && strcmp(ex[2].others[0], "Paris") == 0 && ex[3].n_others == 0, "keywords (empty string = none)");
    CHECK(longdoc_score(&ex[2], "City of Light") == 0.0, "keyword gate");
    CHECK(longdoc_score(&ex[4], "贝多芬") == 1.0 && longdoc_score(&ex[4], "贝克汉姆") == 0.0, "cmrc (zh keyword fallback)");
    CHECK(strcmp(ex[4].rec.task, "lveval.cmrc_mixup_16k") == 0 && ex[4].max_new == 64, "cmrc record");
    build_free(ex, n);
}

/* A record with a long context, written to tmpdir/trunc/hotpotqa.jsonl. */
static const char *write_long_record(void) {
    static char dir[256], ctx[8192];
    snprintf(dir, sizeof dir, "%s/trunc", tmpdir);
    mkdir(dir, 0755);
    size_t k = 0;
    for (int i = 0; i < 120; i++) k += (size_t)snprintf(ctx + k, sizeof ctx - k, "Sentence %d tells of item %d. ", i, 3 * i);
    json_t *o = json_pack("{s:s, s:s, s:[s], s:i}", "input", "Which item does sentence 7 tell of?", "context", ctx, "answers", "item 21", "length", 1440);
    char path[300];
    snprintf(path, sizeof path, "%s/hotpotqa.jsonl", dir);
    json_dump_file(o, path, 0);
    json_decref(o);
    return dir;
}

static int32_t *enc(const char *s, bool add_special, int *n) {
    int32_t *ids;
    *n = tok_encode(g_model->tok, s, strlen(s), add_special, false, &ids);
    return ids;
}

static void test_truncation(void) {
    const char *dir = write_long_record();
    char *ds[] = {"hotpotqa"};
    workload_cfg w = base_cfg("longbench", dir, ds, 1, NULL, 0);
    w.prompt = "completion";
    w.max_length = 200;
    example *ex;
    int n;
    longdoc_build(&w, g_model, &ex, &n);
    char path[300];
    snprintf(path, sizeof path, "%s/hotpotqa.jsonl", dir);
    char *ctx = record_field(path, 1, "context"), *in = record_field(path, 1, "input");
    /* independently: the template before and after {context}, and the context's own tokens */
    const char *before = "Answer the question based on the given passages. Only give me the answer and do not output any other "
                         "words.\n\nThe following are given passages.\n";
    char after[512];
    snprintf(after, sizeof after, "\n\nAnswer the question based on the given passages. Only give me the answer and do not "
             "output any other words.\n\nQuestion: %s\nAnswer:", in);
    int nb, na, nc;
    int32_t *b = enc(before, true, &nb), *a = enc(after, false, &na), *c = enc(ctx, false, &nc);
    const int budget = 200 - nb - na, first = budget / 2, last = budget - first;
    CHECK(n == 1 && ex[0].n == 200 && ex[0].rec.n_tokens == 200, "middle_context: %d tokens, want exactly 200", ex[0].n);
    CHECK(ex[0].rec.n_truncated == nc - budget && nc > budget, "n_truncated %d, want %d - %d", ex[0].rec.n_truncated, nc, budget);
    bool same = ex[0].n == nb + budget + na && memcmp(ex[0].ids, b, sizeof(int32_t) * (size_t)nb) == 0 &&
                memcmp(ex[0].ids + nb, c, sizeof(int32_t) * (size_t)first) == 0 &&
                memcmp(ex[0].ids + nb + first, c + nc - last, sizeof(int32_t) * (size_t)last) == 0 &&
                memcmp(ex[0].ids + nb + budget, a, sizeof(int32_t) * (size_t)na) == 0;
    CHECK(same, "middle_context ids are not [before] + context[:%d] + context[-%d:] + [after]", first, last);
    char *text = decode(ex[0].ids, ex[0].n);
    CHECK(strncmp(text, before, strlen(before)) == 0 && strcmp(text + strlen(text) - strlen(after), after) == 0,
          "instruction and question intact:\n%s", text);
    printf("  middle_context: %d context tokens -> %d kept (%d + %d), %d cut\n", nc, budget, first, last, ex[0].rec.n_truncated);
    dam_free(text);
    build_free(ex, n);

    /* upstream's rule: the whole message's first and last 100 tokens, decoded, joined, re-tokenised */
    w.truncation = "middle_prompt";
    longdoc_build(&w, g_model, &ex, &n);
    char *msg = longdoc_message("Answer the question based on the given passages. Only give me the answer and do not output any "
                                "other words.\n\nThe following are given passages.\n{context}\n\nAnswer the question based on the "
                                "given passages. Only give me the answer and do not output any other words.\n\nQuestion: "
                                "{input}\nAnswer:", ctx, in);
    int nm;
    int32_t *m = enc(msg, true, &nm);
    char *h1 = tok_decode(g_model->tok, m, 100, false), *h2 = tok_decode(g_model->tok, m + nm - 100, 100, false);
    static char joined[1 << 14];
    snprintf(joined, sizeof joined, "%s%s", h1, h2);
    int nj;
    int32_t *j = enc(joined, true, &nj);
    CHECK(ex[0].rec.n_truncated == nm - 200 && ex[0].n == nj && memcmp(ex[0].ids, j, sizeof(int32_t) * (size_t)nj) == 0,
          "middle_prompt: %d tokens (want %d), cut %d (want %d)", ex[0].n, nj, ex[0].rec.n_truncated, nm - 200);
    build_free(ex, n);
    dam_free(h1), dam_free(h2), dam_free(j), dam_free(m), dam_free(msg);

    /* a budget that cannot hold the prompt without its context: exit 2 naming file and line */
    w.truncation = "middle_context";
    w.max_length = 64;
    char msgbuf[1024];
    int lines, st = test_child(build_cfg, (const char *)(const void *)&w, tmpdir, msgbuf, sizeof msgbuf, &lines);
    CHECK(st == 2 && lines == 1 && strstr(msgbuf, "trunc/hotpotqa.jsonl:1: max_length 64 cannot hold this prompt"),
          "tiny max_length: exit %d: %s", st, msgbuf);
    dam_free(b), dam_free(a), dam_free(c), dam_free(ctx), dam_free(in);
}

static void test_files(void) {
    /* LongBench-E: tasks per length bucket (<4000, <8000, else), indices within each */
    char *ds[] = {"hotpotqa"};
    workload_cfg w = base_cfg("longbench", FIX "/longbench", ds, 1, NULL, 0);
    w.longbench_e = 1;
    example *ex;
    int n;
    longdoc_build(&w, g_model, &ex, &n);
    CHECK(n == 4 && strcmp(ex[0].rec.task, "longbench_e.hotpotqa.0-4k") == 0 && strcmp(ex[1].rec.task, "longbench_e.hotpotqa.4-8k") == 0 &&
              strcmp(ex[2].rec.task, "longbench_e.hotpotqa.8k+") == 0 && strcmp(ex[3].rec.task, "longbench_e.hotpotqa.0-4k") == 0 &&
              ex[3].rec.index == 1 && ex[3].rec.sample == 3 && ex[2].rec.index == 0,
          "LongBench-E buckets");
    CHECK(longdoc_score(&ex[2], "char") == 1.0, "LongBench-E score");
    build_free(ex, n);
    /* samples: the first records of each file; more than the file has is an error */
    w.longbench_e = 0;
    w.samples = 2;
    longdoc_build(&w, g_model, &ex, &n);
    CHECK(n == 2 && ex[1].rec.sample == 1, "samples 2: %d examples", n);
    char plain_sha[65];
    memcpy(plain_sha, ex[0].rec.ids_sha256, 65);
    build_free(ex, n);
    char msg[1024];
    int lines, st;
    w.samples = 5;
    st = test_child(build_cfg, (const char *)(const void *)&w, tmpdir, msg, sizeof msg, &lines);
    CHECK(st == 2 && lines == 1 && strstr(msg, "hotpotqa.jsonl: has 3 records, samples asks for 5"), "samples: exit %d: %s", st, msg);
    /* a gzip'd file when the plain one is absent */
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "%s/gz", tmpdir);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/hotpotqa.jsonl.gz", dir);
    FILE *in = fopen(FIX "/longbench/hotpotqa.jsonl", "rb");
    gzFile out = gzopen(path, "wb");
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0) gzwrite(out, buf, (unsigned)got);
    fclose(in), gzclose(out);
    w.data_dir = dir;
    w.samples = 0;
    longdoc_build(&w, g_model, &ex, &n);
    CHECK(n == 3 && strcmp(ex[0].rec.ids_sha256, plain_sha) == 0, "gzip file: %d examples", n);
    build_free(ex, n);
    /* a missing file */
    w.data_dir = tmpdir;
    st = test_child(build_cfg, (const char *)(const void *)&w, tmpdir, msg, sizeof msg, &lines);
    CHECK(st == 2 && lines == 1 && strstr(msg, "/hotpotqa.jsonl: cannot open"), "missing file: exit %d: %s", st, msg);
}

/* The malformed fixtures: exit 2, one line naming the file and line. */
static void test_malformed(void) {
    static const struct { const char *task, *dir, *dataset, *want; int e; } cases[] = {
        {"longbench", "bad_json", "hotpotqa", "bad_json/hotpotqa.jsonl:2: malformed JSON line", 0},
        {"longbench", "not_object", "hotpotqa", "not_object/hotpotqa.jsonl:3: the line is not a JSON object", 0},
        {"longbench", "no_context", "hotpotqa", "no_context/hotpotqa.jsonl:1: missing key \"context\"", 0},
        {"longbench", "answers_string", "hotpotqa", "answers_string/hotpotqa.jsonl:2: key \"answers\" must be a non-empty array of strings", 0},
        {"longbench", "answers_empty", "hotpotqa", "answers_empty/hotpotqa.jsonl:1: key \"answers\" must be a non-empty array", 0},
        {"longbench", "input_number", "hotpotqa", "input_number/hotpotqa.jsonl:1: key \"input\" must be a string", 0},
        {"longbench", "no_classes", "trec", "no_classes/trec.jsonl:1: key \"all_classes\" must be a non-empty array of strings", 0},
        {"longbench", "no_paragraph", "passage_retrieval_en", "no_paragraph/passage_retrieval_en.jsonl:1: answer \"2\" has no paragraph number", 0},
        {"longbench", "no_length", "hotpotqa", "no_length/hotpotqa_e.jsonl:1: key \"length\" must be an integer", 1},
        {"lveval", "bad_keywords", "hotpotwikiqa_mixup", "bad_keywords/hotpotwikiqa_mixup_16k.jsonl:1: key \"answer_keywords\" must be a string or null", 0},
        {"lveval", "no_input", "factrecall_en", "no_input/factrecall_en_16k.jsonl:2: missing key \"input\"", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char dir[256], msg[1024];
        snprintf(dir, sizeof dir, FIX "/%s/malformed/%s", cases[i].task, cases[i].dir);
        char *ds[] = {(char *)cases[i].dataset}, *lvl[] = {"16k"};
        workload_cfg w = base_cfg(cases[i].task, dir, ds, 1, lvl, strcmp(cases[i].task, "lveval") == 0);
        w.longbench_e = cases[i].e;
        int lines, st = test_child(build_cfg, (const char *)(const void *)&w, tmpdir, msg, sizeof msg, &lines);
        CHECK(st == 2 && lines == 1 && strstr(msg, cases[i].want), "%s: exit %d, %d lines: %s", cases[i].dir, st, lines, msg);
    }
}

int main(void) {
    if (mkdtemp(tmpdir) == NULL) return 1;
    test_normalisation();
    test_f1();
    test_rouge();
    test_edit_similarity();
    test_longbench_metrics();
    test_lveval_metrics();
    test_message();
    test_config();
    llama_model *m = llama_load("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    g_model = m;
    test_prompts();
    test_truncation();
    test_files();
    test_malformed();
    llama_free(m);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_done("longdoc");
}
