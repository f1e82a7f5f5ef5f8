/* test_ruler.c — the RULER workload (datasets/ruler*.h, harness/config_ruler.h,
 * harness/summary_ruler.h):
 *  - scoring: post-processing and string_match_all / _part on hand-made predictions (empty,
 *    control characters, Unicode case, invalid UTF-8), values worked out by hand below;
 *  - the shared pieces: RULER's depth table, replace / list joining, UUID v4 form, sampling and
 *    the fixed-seed shuffle, FWE's zeta counts, word pools and essay sentence ends on fixtures;
 *  - every task built with the real tokenizer from fixtures this test writes (word lists, two
 *    short essays of our own, NQ / SQuAD / HotpotQA question files): the prompt ids at seed 1234
 *    against committed golden sha256 (the decoded prompts were read and checked against the
 *    templates of docs/workloads.md before the hashes were committed), the structure of each
 *    prompt (template, answer prefix, needles, counts), the length rule
 *    tokens(prompt) + max_new <= S with the achieved gap, and no BOS inside prompts or answers;
 *  - malformed data, bad configs and lengths: exit status 2 with one line naming the file and
 *    line / key (forked children);
 *  - the `dam inspect --ruler` layout (text and CSV) of a hand-built results set, averages checked
 *    by hand;
 *  - with ../shared/data: all 12 default tasks at 1024 and 2048 tokens on the real data, lengths
 *    within the stated tolerance. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/mem.h"
#include "datasets/prompt.h"
#include "datasets/ruler.h"
#include "datasets/ruler_common.h"
#include "datasets/ruler_fwe.h"
#include "datasets/ruler_niah.h"
#include "datasets/ruler_qa.h"
#include "datasets/ruler_score.h"
#include "harness/config.h"
#include "harness/summary_ruler.h"
#include "model/llama.h"
#include "test.h"
#include "test_child.h"

static char tmpdir[] = "/tmp/test_ruler_XXXXXX";

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static char *path_in(const char *name) {
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}


/* Expects f(arg) to exit 2 with one stderr line containing every one of want[] (NULL-ended). */
static void expect_exit2(const char *what, void (*f)(const char *), const char *arg, const char *const *want) {
    char msg[2048];
    int lines, st = test_child(f, arg, tmpdir, msg, sizeof msg, &lines);
    int ok = st == 2 && lines == 1;
    for (int i = 0; want[i]; i++) ok &= strstr(msg, want[i]) != NULL;
    CHECK(ok, "%s: exit %d, %d lines: %s", what, st, lines, msg);
}

/* ---------------------------------------------------------------- scoring */

static void test_scoring(void) {
    char *p = ruler_postprocess("  \t hello\x01world \n");
    CHECK(strcmp(p, "hello\nworld") == 0, "postprocess strip + \\x01 -> newline: [%s]", p);
    dam_free(p);
    p = ruler_postprocess("\x1f\x00");
    CHECK(strcmp(p, "") == 0, "only control characters: [%s]", p);
    dam_free(p);
    p = ruler_postprocess("\x02 abc \x1c");
    /* \x02 becomes "\n", then stripped; \x1c is white space for Python's strip */
    CHECK(strcmp(p, "abc") == 0, "control at the ends: [%s]", p);
    dam_free(p);
    p = ruler_postprocess("a\tb");
    CHECK(strcmp(p, "a\nb") == 0, "inner tab -> newline: [%s]", p);
    dam_free(p);
    p = ruler_postprocess("");
    CHECK(strcmp(p, "") == 0, "empty");
    dam_free(p);

    char *r3[3] = {"123", "456", "789"};
    /* 2 of 3 references are substrings: 2/3 */
    CHECK_NEAR(ruler_match_all(" The numbers are 123 and 456.", r3, 3), 2.0 / 3, 1e-12, 0, "match_all 2 of 3");
    CHECK(ruler_match_all("", r3, 3) == 0, "empty prediction scores 0");
    CHECK(ruler_match_part("", r3, 3) == 0, "empty prediction scores 0 (part)");
    CHECK(ruler_match_part("it is 789", r3, 3) == 1, "part: any reference");
    CHECK(ruler_match_part("it is 78 9", r3, 3) == 0, "part: none");
    /* "123" and "456" are both inside "1234567", "789" is not: 2/3 */
    CHECK_NEAR(ruler_match_all("1234567", r3, 3), 2.0 / 3, 1e-12, 0, "substrings inside a longer number count (RULER)");
    char *kw[1] = {"Abc-DEF"};
    CHECK(ruler_match_all("xx aBC-def yy", kw, 1) == 1, "ASCII case ignored");
    char *ro[2] = {"Wilhelm Conrad Röntgen", "Röntgen"};
    CHECK(ruler_match_part("WILHELM CONRAD RÖNTGEN", ro, 2) == 1, "Unicode case (Ö/ö) ignored");
    CHECK_NEAR(ruler_match_all("röntgen", ro, 2), 0.5, 1e-12, 0, "1 of 2 Unicode references");
    char *gr[1] = {"Αθήνα"};
    CHECK(ruler_match_all("ΑΘΉΝΑ", gr, 1) == 1, "Greek upper vs lower");
    char *nl[1] = {"12\n34"};
    CHECK(ruler_match_all("12\x01" "34", nl, 1) == 1, "\\x01 becomes \\n before matching");
    char *ab[1] = {"abc"};
    CHECK(ruler_match_all("R\xc3" "abc", ab, 1) == 1, "invalid UTF-8 before the reference");
    CHECK(ruler_match_all("abc\xe2\x82", ab, 1) == 1, "a character cut at the end");
    CHECK(ruler_match_all("ab\xff" "c", ab, 1) == 0, "no match across an invalid byte");
    CHECK(ruler_contains("anything", ""), "the empty reference is found (Python: '' in s)");
    char *cat[1] = {"cat"};
    CHECK(ruler_match_all("concatenate", cat, 1) == 1, "substring within a word counts");
}

/* ---------------------------------------------------------------- shared pieces */

static void test_common(void) {
    /* round(linspace(0, 100, 40)): i * 100 / 39 -> 0, 2.56, 5.13, 7.69, 10.26, ..., 97.44, 100 */
    const int want[8] = {0, 3, 5, 8, 10, 13, 15, 18};
    for (int i = 0; i < 8; i++) CHECK(ruler_depth_percent(i) == want[i], "depth %d: %d", i, ruler_depth_percent(i));
    CHECK(ruler_depth_percent(38) == 97 && ruler_depth_percent(39) == 100, "last depths");
    CHECK(ruler_depth_percent(20) == 51, "depth 20: 51.28 -> 51");

    char *s = ruler_replace("What are all the are", "are", "is");
    CHECK(strcmp(s, "What is all the is") == 0, "replace: %s", s);
    dam_free(s);
    char *items[4] = {"a", "b", "c", "d"};
    s = ruler_join_list(items, 4);
    CHECK(strcmp(s, "a, b, c, and d") == 0, "join 4: %s", s);
    dam_free(s);
    s = ruler_join_list(items, 1);
    CHECK(strcmp(s, "a") == 0, "join 1: %s", s);
    dam_free(s);
    example ex = {0};
    ex.rec.task = "ruler", ex.rec.index = 0;
    char **two = dam_malloc(sizeof(char *) * 2, "refs");
    two[0] = dam_strdup("a", "ref"), two[1] = dam_strdup("\xc3\xa9", "ref");
    example_set_refs(&ex, two, 2);
    CHECK(strcmp(ex.rec.answer, "[\"a\",\"\xc3\xa9\"]") == 0 && ex.n_refs == 2 && ex.refs == two, "refs json: %s", ex.rec.answer);
    ex.rec.task = NULL;
    example_free(&ex);

    rng_t r = rng_seed(7, 1);
    for (int k = 0; k < 20; k++) {
        char u[40];
        ruler_rand_uuid(&r, u);
        CHECK(strlen(u) == 36 && u[8] == '-' && u[13] == '-' && u[18] == '-' && u[23] == '-' && u[14] == '4' &&
                  strchr("89ab", u[19]) != NULL,
              "uuid v4 form: %s", u);
        char num[16];
        ruler_rand_number(&r, num);
        CHECK(strlen(num) == 7 && num[0] != '0', "7-digit number: %s", num);
    }
    /* sampling: distinct, and the first 3 of a 6-draw are the 3-draw */
    int a[6], b[3];
    rng_t r1 = rng_seed(9, 2), r2 = rng_seed(9, 2);
    ruler_sample(&r1, 10, 6, a);
    ruler_sample(&r2, 10, 3, b);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < i; j++) CHECK(a[i] != a[j], "sample repeats %d", a[i]);
    CHECK(memcmp(a, b, sizeof b) == 0, "sample is prefix-stable");
    /* the fixed-seed shuffle depends on (seed, n) only, and is a permutation */
    int *p1 = ruler_shuffle_fixed(42, 50), *p2 = ruler_shuffle_fixed(42, 50), *p3 = ruler_shuffle_fixed(43, 50);
    int seen[50] = {0}, same = 1, moved = 0;
    for (int i = 0; i < 50; i++) seen[p1[i]]++, same &= p1[i] == p2[i], moved += p1[i] != p3[i];
    for (int i = 0; i < 50; i++) CHECK(seen[i] == 1, "not a permutation at %d", i);
    CHECK(same && moved > 0, "fixed shuffle: same seed same permutation, another seed another");
    dam_free(p1), dam_free(p2), dam_free(p3);

    /* zeta counts: N = 100: 100 / k^2 / 1.6449 -> 60.79, 15.20, 6.75, 3.80, 2.43 */
    const int cnt[5] = {60, 15, 6, 3, 2};
    for (int k = 1; k <= 5; k++) CHECK(ruler_fwe_count(100, k) == cnt[k - 1], "fwe count k=%d: %d", k, ruler_fwe_count(100, k));
    /* the smallest N (64): 38.9, 9.7, 4.3, 2.4, 1.6 -> 38 > 9 > 4 > 2 > 1 */
    CHECK(ruler_fwe_count(64, 2) == 9 && ruler_fwe_count(64, 4) == 2 && ruler_fwe_count(64, 5) == 1, "fwe counts at N=64");
}

/* ---------------------------------------------------------------- fixtures */

static const char *ESSAY1 =
    "Most programs begin as small experiments. A person writes a few lines, runs them, and looks at what comes out. If the "
    "result is surprising, they change something and try again! That loop is cheap, so it happens hundreds of times a day.\n\n"
    "\"Why does this work?\" is a better question than it sounds. The answer usually points at an assumption nobody wrote "
    "down (which is where bugs live.) Good tools shorten the loop; bad ones hide it behind configuration, e.g. files that "
    "nobody reads. Over months, the experiments that survive turn into products.";
static const char *ESSAY2 =
    "Rivers carry more than water. They move sand, seeds and stories from the hills to the sea. In spring the current is "
    "fast and brown; in late summer it slows and clears. Fishermen read the surface the way others read a newspaper. Where "
    "the water folds over a stone, trout wait for food. Where it spreads thin across gravel, herons stand still for an "
    "hour.\tNothing about a river is fixed, yet people have built towns beside them for thousands of years. Perhaps that is "
    "the point: a place that changes every day, and is still the same place";

/* Word lists of syllable words: 60 adjectives (+ "y"), 100 nouns (+ "n"), 60 verbs (+ "s"); the
 * verbs repeat 5 nouns and the adjective file has a blank line, a duplicate and a CR. */
static void write_words(const char *dir) {
    static const char *syl[10] = {"ba", "de", "ki", "lo", "mu", "ne", "po", "ra", "si", "tu"};
    const char *files[3] = {"adjectivelist.txt", "nounlist.txt", "verblist.txt"};
    const int count[3] = {60, 100, 60};
    const char *end[3] = {"y", "n", "s"};
    for (int f = 0; f < 3; f++) {
        char text[8192];
        size_t k = 0;
        for (int i = 0; i < count[f]; i++) {
            int w = f == 2 && i < 5 ? i * 7 : i; /* verbs 0..4 are nouns 0, 7, ..., 28 */
            k += (size_t)snprintf(text + k, sizeof text - k, "%s%s%s%s\n", syl[(w / 10) % 10], syl[w % 10],
                                  f == 1 && w >= 100 ? "x" : "", f == 2 && i < 5 ? "n" : end[f]);
        }
        if (f == 0) k += (size_t)snprintf(text + k, sizeof text - k, "\nbabay\r\n");
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, files[f]);
        write_file(p, text);
    }
}

/* An NQ-oracle-style file: 40 generated stations (varied passage lengths) and two X-ray questions
 * sharing a title (Unicode answer). */
static void write_nq(const char *path) {
    FILE *f = fopen(path, "wb");
    const char *fill = " The station reports wind, rain and temperature every hour to the regional office.";
    for (int i = 0; i < 40; i++) {
        char title[64], text[1024], ans[32], q[128];
        snprintf(title, sizeof title, "Station %d", i + 1);
        snprintf(ans, sizeof ans, "KX-%d", 100 + 7 * i);
        int k = snprintf(text, sizeof text, "Station %d is a weather station on hill %d. Its code word is %s.", i + 1, i + 1, ans);
        for (int r = 0; r < i % 4; r++) k += snprintf(text + k, sizeof text - (size_t)k, "%s", fill);
        snprintf(q, sizeof q, "what is the code word of station %d", i + 1);
        json_t *o = json_pack("{s:s, s:[s], s:[{s:s, s:s, s:b, s:b}]}", "question", q, "answers", ans, "ctxs", "title", title,
                              "text", text, "hasanswer", 1, "isgold", 1);
        char *line = json_dumps(o, JSON_COMPACT);
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(o);
    }
    fputs("{\"question\": \"who discovered x-rays\", \"answers\": [\"Wilhelm Conrad Röntgen\", \"Röntgen\"], \"ctxs\": "
          "[{\"title\": \"X-ray\", \"text\": \"X-rays were discovered in 1895 by Wilhelm Conrad Röntgen, a German physicist.\"}]}\n"
          "\n"
          "{\"question\": \"when were x-rays first used in medicine\", \"answers\": [\"1896\"], \"ctxs\": [{\"title\": "
          "\"X-ray\", \"text\": \"Doctors first used X-rays in medicine in 1896, months after the discovery.\"}]}\n",
          f);
    fclose(f);
}

/* SQuAD v2-style: 2 articles x 8 paragraphs, 2 questions each (one impossible per article, one
 * without is_impossible as in v1.1). */
static void write_squad(const char *path) {
    json_t *data = json_array();
    for (int a = 0; a < 2; a++) {
        json_t *paras = json_array();
        for (int p = 0; p < 8; p++) {
            char ctx[256], q1[128], q2[128], ans[32];
            snprintf(ans, sizeof ans, "%d", 1900 + 10 * a + p);
            snprintf(ctx, sizeof ctx, "Paragraph %d of article %d says the bridge opened in %s after long delays.", p, a, ans);
            snprintf(q1, sizeof q1, "When did bridge %d-%d open?", a, p);
            snprintf(q2, sizeof q2, "Who painted bridge %d-%d?", a, p);
            json_t *qas = json_array();
            json_array_append_new(qas, json_pack("{s:s, s:[{s:s, s:i}, {s:s, s:i}], s:b}", "question", q1, "answers", "text", ans,
                                                 "answer_start", 10, "text", ans, "answer_start", 10, "is_impossible", 0));
            if (p == 0) json_array_append_new(qas, json_pack("{s:s, s:[], s:b}", "question", q2, "answers", "is_impossible", 1));
            if (p == 1) json_object_del(json_array_get(qas, 0), "is_impossible");
            json_array_append_new(paras, json_pack("{s:s, s:o}", "context", ctx, "qas", qas));
        }
        char title[32];
        snprintf(title, sizeof title, "Article_%d", a);
        json_array_append_new(data, json_pack("{s:s, s:o}", "title", title, "paragraphs", paras));
    }
    json_t *root = json_pack("{s:s, s:o}", "version", "v2.0", "data", data);
    json_dump_file(root, path, JSON_INDENT(1));
    json_decref(root);
}

/* HotpotQA-style: 12 questions, each with 2 context documents (a lake and a town). */
static void write_hotpot(const char *path) {
    json_t *root = json_array();
    for (int i = 0; i < 12; i++) {
        char t1[32], t2[32], s1[128], s2[128], q[128], ans[32];
        snprintf(t1, sizeof t1, "Lake %d", i);
        snprintf(t2, sizeof t2, "Town %d", i + 1);
        snprintf(ans, sizeof ans, "%d metres", 20 + i);
        snprintf(s1, sizeof s1, "Lake %d lies next to Town %d. ", i, i + 1);
        snprintf(s2, sizeof s2, "The lake near Town %d is %s deep.", i + 1, ans);
        snprintf(q, sizeof q, "How deep is the lake next to the town after Town %d?", i);
        json_array_append_new(root, json_pack("{s:s, s:s, s:[[s, [s]], [s, [s, s]]]}", "question", q, "answer", ans, "context", t1, s1,
                                              t2, s2, "It has a market."));
    }
    json_dump_file(root, path, JSON_INDENT(1));
    json_decref(root);
}

static void make_fixtures(void) {
    mkdir(path_in("words"), 0755);
    write_words(path_in("words"));
    mkdir(path_in("essays"), 0755);
    write_file(path_in("essays/b_rivers.txt"), ESSAY2);
    write_file(path_in("essays/a_programs.txt"), ESSAY1);
    write_file(path_in("essays/notes.md"), "not an essay");
    mkdir(path_in("empty"), 0755);
    write_nq(path_in("nq.jsonl"));
    write_squad(path_in("squad.json"));
    write_hotpot(path_in("hotpot.json"));
}

/* ---------------------------------------------------------------- loaders */

static void load_nq(const char *p) { ruler_qa_free(ruler_qa_load(p, RULER_QA_NQ)); }
static void load_squad(const char *p) { ruler_qa_free(ruler_qa_load(p, RULER_QA_SQUAD)); }
static void load_hotpot(const char *p) { ruler_qa_free(ruler_qa_load(p, RULER_QA_HOTPOTQA)); }
static void load_essay(const char *p) {
    ruler_essay e = ruler_essay_load(p);
    ruler_essay_free(&e);
}
static void load_words(const char *p) {
    static const char *const f[] = {"adjectivelist.txt", "missing.txt", NULL};
    ruler_words w = ruler_words_load(p, f);
    ruler_words_free(&w);
}

static void test_loaders(void) {
    static const char *const files[] = {"nounlist.txt", "adjectivelist.txt", "verblist.txt", NULL};
    ruler_words w = ruler_words_load(path_in("words"), files);
    /* 100 nouns + 60 adjectives (a blank line, a duplicate "babay") + 60 verbs of which 5 are nouns */
    CHECK(w.n == 215, "word pool: %d words, want 100 + 60 + 55", w.n);
    int sorted = 1;
    for (int i = 1; i < w.n; i++) sorted &= strcmp(w.w[i - 1], w.w[i]) < 0;
    CHECK(sorted, "word pool sorted and unique");
    ruler_words_free(&w);

    ruler_essay e = ruler_essay_load(path_in("essays"));
    /* a_programs.txt (94 words) before b_rivers.txt (99 words); notes.md ignored */
    CHECK(e.n == 94 + 99 && strcmp(e.w[0], "Most") == 0 && strcmp(e.w[94], "Rivers") == 0, "essay words: %d, %s / %s", e.n,
          e.w[0], e.n > 94 ? e.w[94] : "");
    int ends = 0;
    for (int i = 0; i < e.n; i++) ends += e.sent_end[i];
    /* essay 1: 10 sentence ends (with "again!", "work?\"", "live.)" and "e.g."); essay 2: 7 (its last sentence
       has no period: the last word of a haystack closes its sentence anyway, in ruler_niah.c) */
    CHECK(ends == 17, "sentence ends: %d", ends);
    int found = 0;
    for (int i = 0; i < e.n; i++) {
        if (strcmp(e.w[i], "work?\"") == 0) found += e.sent_end[i];
        if (strcmp(e.w[i], "live.)") == 0) found += e.sent_end[i];
        if (strcmp(e.w[i], "e.g.") == 0) found += e.sent_end[i];
        if (strcmp(e.w[i], "loop;") == 0) found += 10 * e.sent_end[i];
    }
    CHECK(found == 3, "sentence ends after closing quote / bracket, e.g.; none after ';' (%d)", found);
    ruler_essay_free(&e);

    ruler_qa_set *s = ruler_qa_load(path_in("nq.jsonl"), RULER_QA_NQ);
    CHECK(s->n_items == 42 && s->n_docs == 42, "nq: %d questions, %d documents", s->n_items, s->n_docs);
    if (s->n_items == 42) {
        const ruler_qa_item *x = &s->items[40];
        CHECK(x->n_refs == 2 && strcmp(x->refs[1], "Röntgen") == 0 && x->n_gold == 1 &&
                  strncmp(s->docs[x->gold[0]], "X-ray\nX-rays were discovered", 28) == 0,
              "nq item 41");
        int nc;
        int *c = ruler_qa_candidates(s, 40, 5, &nc);
        /* the other X-ray passage is the one "more" document and comes first */
        CHECK(nc == 41 && strncmp(s->docs[c[0]], "X-ray\nDoctors", 13) == 0, "nq candidates: %d, first %.20s", nc, s->docs[c[0]]);
        dam_free(c);
    }
    ruler_qa_free(s);
    s = ruler_qa_load(path_in("squad.json"), RULER_QA_SQUAD);
    /* 16 answerable + the v1.1-style one counted, 2 impossible skipped: 16 questions */
    CHECK(s->n_items == 16 && s->n_docs == 16, "squad: %d questions, %d documents", s->n_items, s->n_docs);
    if (s->n_items > 0) {
        int nc;
        int *c = ruler_qa_candidates(s, 0, 5, &nc);
        int more = 0;
        for (int i = 0; i < 7; i++) more += strstr(s->docs[c[i]], "of article 0 ") != NULL;
        CHECK(nc == 15 && more == 7 && s->items[0].n_refs == 2, "squad: the 7 same-article paragraphs come first (%d)", more);
        dam_free(c);
    }
    ruler_qa_free(s);
    s = ruler_qa_load(path_in("hotpot.json"), RULER_QA_HOTPOTQA);
    /* 12 x 2 documents, distinct: Lake i + Town i+1 (the shared text differs by its sentences) */
    CHECK(s->n_items == 12 && s->n_docs == 24 && s->items[3].n_gold == 2, "hotpot: %d questions, %d documents", s->n_items, s->n_docs);
    if (s->n_items == 12)
        CHECK(strcmp(s->docs[s->items[0].gold[1]], "Town 1\nThe lake near Town 1 is 20 metres deep.It has a market.") == 0,
              "hotpot document = title + \\n + sentences joined: %s", s->docs[s->items[0].gold[1]]);
    ruler_qa_free(s);

    /* malformed data: one line naming the file and the line / path */
    write_file(path_in("bad1.jsonl"), "{\"question\": \"q\", \"answers\": [\"a\"], \"ctxs\": [{\"title\": \"t\", \"text\": \"x\"}]}\n\n"
                                      "{\"question\": \"q\", \"answers\": [], \"ctxs\": []}\n");
    expect_exit2("nq empty answers", load_nq, path_in("bad1.jsonl"), (const char *[]){"bad1.jsonl:3:", "\"answers\"", NULL});
    write_file(path_in("bad2.jsonl"), "{\"question\": \"q\", \"answers\": [\"a\"], \"ctxs\": [\"x\"]}\n");
    expect_exit2("nq ctxs[0] not an object", load_nq, path_in("bad2.jsonl"), (const char *[]){"bad2.jsonl:1: ctxs[0]", NULL});
    write_file(path_in("bad3.jsonl"), "{\"question\": \"q\", \"answers\": [\"a\"], \"ctxs\": [{\"title\": \"t\"}]}\n");
    expect_exit2("nq missing text", load_nq, path_in("bad3.jsonl"), (const char *[]){"bad3.jsonl:1: ctxs[0]: missing key \"text\"", NULL});
    write_file(path_in("bad4.jsonl"), "{\"question\": \"q\",\n");
    expect_exit2("nq bad JSON", load_nq, path_in("bad4.jsonl"), (const char *[]){"bad4.jsonl:1: malformed JSON", NULL});
    write_file(path_in("bad5.jsonl"), "{\"question\": 3, \"answers\": [\"a\"], \"ctxs\": [{\"title\": \"t\", \"text\": \"x\"}]}\n");
    expect_exit2("nq question type", load_nq, path_in("bad5.jsonl"), (const char *[]){"bad5.jsonl:1: key \"question\" must be a string", NULL});
    expect_exit2("nq missing file", load_nq, path_in("none.jsonl"), (const char *[]){"none.jsonl: cannot open", NULL});
    write_file(path_in("bad.json"), "{\"data\": [{\"paragraphs\": [{\"context\": \"c\", \"qas\": [{\"question\": \"q\", "
                                    "\"answers\": [{\"start\": 1}]}]}]}]}");
    expect_exit2("squad answer without text", load_squad, path_in("bad.json"),
                 (const char *[]){"bad.json: data[0].paragraphs[0].qas[0].answers[0]: missing key \"text\"", NULL});
    write_file(path_in("bad6.json"), "{\"data\": [\n  {\"paragraphs\": [}\n]}");
    expect_exit2("squad bad JSON", load_squad, path_in("bad6.json"), (const char *[]){"bad6.json:2:", "malformed JSON", NULL});
    write_file(path_in("bad7.json"), "[{\"question\": \"q\", \"answer\": \"a\", \"context\": [[\"t\", \"not a list\"]]}]");
    expect_exit2("hotpot context entry", load_hotpot, path_in("bad7.json"), (const char *[]){"bad7.json: [0].context[0] must be [title, [sentences]]", NULL});
    expect_exit2("hotpot not an array", load_hotpot, path_in("squad.json"), (const char *[]){"squad.json: the top level must be an array", NULL});
    expect_exit2("essay folder without .txt", load_essay, path_in("empty"), (const char *[]){"empty: no .txt files", NULL});
    expect_exit2("missing word list", load_words, path_in("words"), (const char *[]){"words/missing.txt: cannot open word list", NULL});
}

/* ---------------------------------------------------------------- generators */

static const llama_model *g_model;
static workload_cfg g_cfg;

static void build_only(const char *unused) {
    (void)unused;
    example *ex;
    int n;
    ruler_build(&g_cfg, g_model, 1234, &ex, &n);
}

static workload_cfg fixture_cfg(char **task, int *lengths, int n_lengths, int samples, const char *prompt) {
    workload_cfg w = {.task = "ruler", .n_lengths = n_lengths, .lengths = lengths, .samples = samples, .prompt = (char *)prompt,
                      .haystack_dir = path_in("essays"), .words_dir = path_in("words"), .n_tasks = 1, .tasks = task,
                      .qa_file = path_in("nq.jsonl"), .squad_file = path_in("squad.json"), .hotpotqa_file = path_in("hotpot.json")};
    return w;
}

/* Occurrences of `needle` in `hay`. */
static int count_of(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++) n++; /* overlapping occurrences count */
    return n;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Golden sha256 (first 16 hex digits) of sample 0's ids at seed 1234, S = 1024 (qa_*: 512),
 * completion style, fixture data. Computed once; each decoded prompt was read before committing. */
static const struct {
    const char *task, *sha;
} GOLDEN[] = {
    {"niah_single_1", "d36a7f6139f889ff"}, {"niah_single_2", "3a9da91d3474ee46"}, {"niah_single_3", "bdbbb7d18251120d"},
    {"niah_multikey_1", "98b7f881b1c567cd"}, {"niah_multikey_2", "699455906c90e9de"},
    {"niah_multikey_3", "71cda48ca37cd3b8"}, {"niah_multivalue", "679953866fe87322"},
    {"niah_multiquery", "f32dd6bbb3415d28"}, {"vt", "6b297b39406e6c5b"}, {"cwe", "6bce7e241d2b6423"},
    {"fwe", "5b59153e34e12f57"}, {"qa_nq", "86dddcf23a8c3efc"}, {"qa_1", "b533bf0881a3e697"},
    {"qa_2", "b835a511e97e912f"},
};

/* The NIAH checks: wording by q·v, one needle per reference, the answer prefix at the end. */
static void check_niah(const char *task, const example *e, const char *text) {
    const int plural = strcmp(task, "niah_multivalue") == 0 || strcmp(task, "niah_multiquery") == 0;
    const char *type = strcmp(task, "niah_single_3") == 0 || strcmp(task, "niah_multikey_3") == 0 ? "uuid" : "number";
    char head[256], tail[64];
    if (plural)
        snprintf(head, sizeof head, "Some special magic %ss are hidden within the following text. Make sure to memorize it. I "
                 "will quiz you about the %ss afterwards.\n", type, type);
    else
        snprintf(head, sizeof head, "A special magic %s is hidden within the following text. Make sure to memorize it. I will "
                 "quiz you about the %s afterwards.\n", type, type);
    snprintf(tail, sizeof tail, " mentioned in the provided text %s", plural ? "are" : "is");
    CHECK(strncmp(text, head, strlen(head)) == 0, "%s: template head:\n%.300s", task, text);
    CHECK(ends_with(text, tail), "%s: answer prefix at the end:\n%s", task, text + (strlen(text) > 200 ? strlen(text) - 200 : 0));
    char q[64];
    snprintf(q, sizeof q, "\n%s the special magic %s%s for ", plural ? "What are all" : "What is", type, plural ? "s" : "");
    CHECK(strstr(text, q) != NULL, "%s: question wording", task);
    for (int r = 0; r < e->n_refs; r++) {
        char needle[128];
        snprintf(needle, sizeof needle, " is: %s.", e->refs[r]);
        CHECK(count_of(text, needle) == 1, "%s: needle with value %s found %d times", task, e->refs[r], count_of(text, needle));
    }
    int needles = count_of(text, "One of the special magic ");
    const int want = strcmp(task, "niah_multikey_1") == 0 || strcmp(task, "niah_multiquery") == 0 || strcmp(task, "niah_multivalue") == 0 ? 4 : 1;
    if (strcmp(task, "niah_multikey_2") == 0 || strcmp(task, "niah_multikey_3") == 0) CHECK(needles > 5, "%s: %d needles", task, needles);
    else CHECK(needles == want, "%s: %d needles, want %d", task, needles, want);
    CHECK(e->n_refs == (plural ? 4 : 1), "%s: %d refs", task, e->n_refs);
    if (strcmp(task, "niah_single_1") == 0) CHECK(count_of(text, RULER_NOISE) > 10, "noise haystack");
}

static void check_vt(const example *e, const char *text) {
    CHECK(count_of(text, "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n") == 2,
          "vt: one-shot example + task");
    CHECK(ends_with(text, ", they are: "), "vt: ends with the answer prefix");
    CHECK(e->n_refs == 5, "vt refs");
    char line[64];
    for (int j = 1; j < e->n_refs; j++) {
        snprintf(line, sizeof line, "\nVAR %s = VAR %s \n", e->refs[j], e->refs[j - 1]);
        CHECK(count_of(text, line) == 1, "vt chain line %d", j);
    }
    snprintf(line, sizeof line, "\nVAR %s = ", e->refs[0]);
    const char *v = strstr(text, line);
    CHECK(v != NULL, "vt first line");
    if (v) {
        int value = atoi(v + strlen(line));
        char q[320];
        snprintf(q, sizeof q, "Question: Find all variables that are assigned the value %d in the text above. Answer: According "
                 "to the chain(s) of variable assignment in the text above, 5 variables are assigned the value %d, they are: ", value, value);
        CHECK(value >= 10000 && value <= 99998 && ends_with(text, q), "vt question and prefix with value %d", value);
    }
    /* the one-shot answer: 5 names of 3 letters after "they are:  " */
    const char *shot = strstr(text, ", they are:  ");
    CHECK(shot != NULL && strlen(shot) > 33 && shot[16] == ' ' && shot[20] == ' ' && shot[32] == '\n' && shot[33] == '\n',
          "vt one-shot answer form");
}

static void check_cwe(const example *e, const char *text) {
    const char *main_list = strstr(text + 10, "Below is a numbered list of words.");
    CHECK(main_list != NULL && strncmp(text, "Below is a numbered list of words.", 34) == 0, "cwe: example then task");
    CHECK(ends_with(text, "\nQuestion: What are the 10 most common words in the above list? Answer: The top 10 words that appear "
                          "most often in the list are:"), "cwe: prefix at the end");
    CHECK(strstr(text, "most often in the list are: 1. ") != NULL, "cwe: the example's answer");
    if (!main_list) return;
    /* the task list: "1. w 2. w ..." up to "\nQuestion", numbered consecutively; refs 6 times, others once */
    const char *p = strchr(main_list, '\n') + 1;
    char word[64];
    int num, k = 1, n_words = 0, ok = 1;
    char *seen[4096];
    int cnt[4096];
    while (sscanf(p, "%d. %63s", &num, word) == 2) {
        ok &= num == k++;
        int j = 0;
        while (j < n_words && strcmp(seen[j], word) != 0) j++;
        if (j == n_words) seen[n_words] = dam_strdup(word, "w"), cnt[n_words++] = 0;
        cnt[j]++;
        p = strstr(p, word) + strlen(word);
        if (*p != ' ') break;
        p++;
    }
    CHECK(ok && k > 60, "cwe numbering (%d entries)", k - 1);
    int refs6 = 0, others1 = 1;
    for (int j = 0; j < n_words; j++) {
        int is_ref = 0;
        for (int r = 0; r < e->n_refs; r++) is_ref |= strcmp(e->refs[r], seen[j]) == 0;
        if (is_ref) refs6 += cnt[j] == 6;
        else others1 &= cnt[j] == 1;
        dam_free(seen[j]);
    }
    CHECK(refs6 == 10 && others1 && e->n_refs == 10, "cwe: 10 words x 6, others x 1 (S < 4096)");
}

static void check_fwe(const example *e, const char *text) {
    const char *head = "Read the following coded text and track the frequency of each coded word. Find the three most frequently "
                       "appeared coded words. ";
    CHECK(strncmp(text, head, strlen(head)) == 0, "fwe head");
    CHECK(ends_with(text, "\nQuestion: Do not provide any explanation. Please ignore the dots '....'. What are the three most "
                          "frequently appeared words in the above coded text? Answer: According to the coded text above, the "
                          "three most frequently appeared words are:"), "fwe prefix");
    /* counts in the coded text: "..." > ref0 > ref1 > ref2 >= 2 */
    const char *a = text + strlen(head), *b = strstr(text, "\nQuestion: ");
    if (b == NULL) return;
    char *ctx = dam_malloc((size_t)(b - a) + 3, "fwe context");
    ctx[0] = ' ';
    memcpy(ctx + 1, a, (size_t)(b - a));
    ctx[b - a + 1] = ' ', ctx[b - a + 2] = 0;
    int c[3];
    for (int r = 0; r < 3; r++) {
        char w[16];
        snprintf(w, sizeof w, " %s ", e->refs[r]);
        c[r] = count_of(ctx, w);
    }
    int dots = count_of(ctx, " ... ");
    dam_free(ctx);
    CHECK(c[0] > c[1] && c[1] > c[2] && c[2] >= 2 && dots > c[0], "fwe counts: ... %d, refs %d %d %d", dots, c[0], c[1], c[2]);
}

static void check_qa(const char *task, const example *e, const char *text) {
    const char *head = "Answer the question based on the given documents. Only give me the answer and do not output any other "
                       "words.\n\nThe following are given documents.\n\nDocument 1:\n";
    CHECK(strncmp(text, head, strlen(head)) == 0, "%s head", task);
    CHECK(ends_with(text, " Answer:") && strstr(text, "\n\nQuestion: ") != NULL, "%s: question and prefix", task);
    int docs = count_of(text, "Document ");
    char last[32];
    snprintf(last, sizeof last, "\n\nDocument %d:\n", docs);
    CHECK(docs >= 2 && strstr(text, last) != NULL, "%s: %d documents numbered", task, docs);
    int has = 0;
    for (int r = 0; r < e->n_refs; r++) has |= strstr(text, e->refs[r]) != NULL;
    CHECK(has, "%s: an answer is in the documents", task);
}

static void test_generators(const llama_model *m) {
    g_model = m;
    const int32_t bos = tok_bos(m->tok);
    for (size_t g = 0; g < sizeof GOLDEN / sizeof GOLDEN[0]; g++) {
        char *task[1] = {(char *)GOLDEN[g].task};
        const int qa = strncmp(GOLDEN[g].task, "qa_", 3) == 0;
        int lengths[1] = {qa ? 512 : 1024};
        workload_cfg w = fixture_cfg(task, lengths, 1, 2, "completion");
        example *ex;
        int n;
        ruler_build(&w, m, 1234, &ex, &n);
        CHECK(n == 2, "%s: %d examples", task[0], n);
        for (int i = 0; i < n; i++) {
            example *e = &ex[i];
            const int S = lengths[0], total = e->n + e->max_new;
            CHECK(e->max_new == ruler_task_max_new(task[0]) && strcmp(e->rec.task, task[0]) == 0 && e->rec.index == i &&
                      e->rec.sample == i && e->rec.target_len == S && e->rec.n_tokens == e->n,
                  "%s: record fields", task[0]);
            CHECK(total <= S, "%s #%d: %d + %d > %d", task[0], i, e->n, e->max_new, S);
            /* gap: essays / cwe / fwe within 1 %; line haystacks within one line; QA within one document */
            int tol = S / 100;
            if (strcmp(task[0], "niah_single_1") == 0 || strcmp(task[0], "vt") == 0) tol = 26;  /* "\n" + noise line: 25 tokens */
            if (strcmp(task[0], "niah_multikey_2") == 0) tol = 32;                                /* one word-key needle line */
            if (strcmp(task[0], "niah_multikey_3") == 0) tol = 90;                                /* one uuid-uuid needle line */
            if (qa) tol = 120;                                                                    /* one fixture document */
            CHECK(S - total <= tol, "%s #%d: gap %d > %d tokens", task[0], i, S - total, tol);
            printf("  %-16s #%d: %4d + %3d = %4d of %4d tokens (gap %d), depth %.3f, answer %s\n", task[0], i, e->n, e->max_new, total, S,
                   S - total, e->rec.depth, e->rec.answer);
            for (int k = 1; k < e->n; k++) CHECK(e->ids[k] != bos || bos < 0, "%s: BOS inside the prompt at %d", task[0], k);
            for (int k = 0; k < e->n_answer; k++) CHECK(e->answer_ids[k] != bos || bos < 0, "%s: BOS in the answer ids", task[0]);
            /* rec.answer is the refs as JSON */
            json_t *a = json_loads(e->rec.answer, 0, NULL);
            CHECK(json_is_array(a) && (int)json_array_size(a) == e->n_refs && e->n_refs > 0 &&
                      strcmp(json_string_value(json_array_get(a, 0)), e->refs[0]) == 0,
                  "%s: rec.answer %s", task[0], e->rec.answer);
            json_decref(a);
            /* the gold answer scores 1 */
            char *gold = tok_decode(m->tok, e->answer_ids, e->n_answer, false);
            CHECK(ruler_score(e, gold) == 1.0, "%s: the gold text \"%s\" does not score 1", task[0], gold);
            CHECK(e->rec.depth == -1 ? (strcmp(task[0], "cwe") == 0 || strcmp(task[0], "fwe") == 0) : (e->rec.depth >= 0 && e->rec.depth < 1),
                  "%s: depth %g", task[0], e->rec.depth);
            char *text = tok_decode(m->tok, e->ids, e->n, true);
            if (getenv("RULER_DUMP")) printf("=====%s #%d\n%s\n=====\n", task[0], i, text);
            if (strncmp(task[0], "niah", 4) == 0) check_niah(task[0], e, text);
            else if (strcmp(task[0], "vt") == 0) check_vt(e, text);
            else if (strcmp(task[0], "cwe") == 0) check_cwe(e, text);
            else if (strcmp(task[0], "fwe") == 0) check_fwe(e, text);
            else check_qa(task[0], e, text);
            if (i == 0) {
                CHECK(strncmp(e->rec.ids_sha256, GOLDEN[g].sha, 16) == 0, "%s: golden prompt sha256 %.16s, got %.16s", task[0],
                      GOLDEN[g].sha, e->rec.ids_sha256);
            }
            dam_free(text);
            dam_free(gold);
        }
        /* the same config rebuilds the same ids; samples differ */
        example *ex2;
        int n2;
        ruler_build(&w, m, 1234, &ex2, &n2);
        CHECK(n2 == 2 && strcmp(ex2[0].rec.ids_sha256, ex[0].rec.ids_sha256) == 0 && strcmp(ex[0].rec.ids_sha256, ex[1].rec.ids_sha256) != 0,
              "%s: deterministic, samples distinct", task[0]);
        for (int i = 0; i < n2; i++) example_free(&ex2[i]);
        dam_free(ex2);
        for (int i = 0; i < n; i++) example_free(&ex[i]);
        dam_free(ex);
    }

    /* chat style: the message as ChatML's user turn, the answer prefix after the assistant header */
    char *task[1] = {"niah_single_1"};
    int lengths[1] = {512};
    workload_cfg w = fixture_cfg(task, lengths, 1, 1, "chat");
    example *ex;
    int n;
    ruler_build(&w, m, 1234, &ex, &n);
    char *text = tok_decode(m->tok, ex[0].ids, ex[0].n, true);
    CHECK(strncmp(text, "<|im_start|>system\n", 19) == 0 && strstr(text, "<|im_end|>\n<|im_start|>user\nA special magic number is hidden") &&
              strstr(text, "mentioned in the provided text?<|im_end|>\n<|im_start|>assistant\n The special magic number for "),
          "chat style:\n%s", text);
    CHECK(ex[0].n + ex[0].max_new <= 512, "chat fits");
    dam_free(text);
    example_free(&ex[0]);
    dam_free(ex);

    /* max_new_tokens overrides the budget (and the fit): 8 new tokens leave room for more noise */
    w = fixture_cfg(task, lengths, 1, 1, "completion");
    w.max_new_tokens = 8;
    ruler_build(&w, m, 1234, &ex, &n);
    CHECK(ex[0].max_new == 8 && ex[0].n + 8 <= 512 && ex[0].n > 512 - 8 - 26, "max_new_tokens 8: %d tokens", ex[0].n);
    example_free(&ex[0]);
    dam_free(ex);

    /* impossible requests: one line naming the task and length */
    char *vt[1] = {"vt"};
    int small[1] = {512};
    g_cfg = fixture_cfg(vt, small, 1, 1, "completion");
    expect_exit2("vt at 512", build_only, NULL, (const char *[]){"ruler vt: length 512 is too small", "plus 30 to generate", NULL});
    char *qa[1] = {"qa_nq"};
    int big[1] = {8192};
    g_cfg = fixture_cfg(qa, big, 1, 1, "completion");
    expect_exit2("qa beyond its documents", build_only, NULL, (const char *[]){"ruler qa_nq: length 8192 needs more than the 42 documents", NULL});
    g_cfg = fixture_cfg(qa, small, 1, 43, "completion");
    expect_exit2("qa samples beyond questions", build_only, NULL, (const char *[]){"ruler qa_nq: samples 43 exceeds the 42 questions", "nq.jsonl", NULL});
    char *cwe[1] = {"cwe"};
    g_cfg = fixture_cfg(cwe, big, 1, 1, "completion");
    expect_exit2("cwe beyond its pool", build_only, NULL, (const char *[]){"ruler cwe: length 8192 needs more than the 215 distinct words", NULL});
    char *ess[1] = {"niah_single_2"};
    g_cfg = fixture_cfg(ess, small, 1, 1, "completion");
    g_cfg.haystack_dir = path_in("empty");
    expect_exit2("no essays", build_only, NULL, (const char *[]){"empty: no .txt files", NULL});
}

/* ---------------------------------------------------------------- config */

static void parse_only(const char *text) {
    run_config c;
    config_parse(text, "t.json", NULL, 0, &c);
    config_free(&c);
}

static void test_config(void) {
    run_config c;
    config_parse("{\"workloads\": [{\"task\": \"ruler\", \"lengths\": [1024, 2048], \"samples\": 3}], \"methods\": [{\"method\": \"full\"}]}",
                 "t.json", NULL, 0, &c);
    workload_cfg *w = &c.workloads[0];
    CHECK(w->n_tasks == 12 && strcmp(w->tasks[0], "niah_single_1") == 0 && strcmp(w->tasks[11], "qa_nq") == 0, "default tasks");
    CHECK(w->n_lengths == 2 && w->samples == 3 && strcmp(w->prompt, "completion") == 0 && w->max_new_tokens == 0, "ruler fields");
    CHECK(strcmp(w->haystack_dir, "data/pg_essays") == 0 && strcmp(w->words_dir, "data/wordlists/wonderwords") == 0 &&
              strcmp(w->qa_file, "data/qa/nq_open_oracle/nq-open-oracle.jsonl.gz") == 0 && w->squad_file == NULL,
          "default data paths");
    CHECK(strstr(c.resolved_json, "\"qa_nq\"") && strstr(c.resolved_json, "\"qa_file\""), "resolved config lists tasks and files");
    config_free(&c);
    config_parse("{\"workloads\": [{\"task\": \"ruler\", \"tasks\": [\"vt\", \"fwe\"], \"lengths\": [1024], \"max_new_tokens\": 20, "
                 "\"prompt\": \"chat\"}], \"methods\": [{\"method\": \"full\"}]}", "t.json", NULL, 0, &c);
    w = &c.workloads[0];
    CHECK(w->n_tasks == 2 && w->max_new_tokens == 20 && strcmp(w->prompt, "chat") == 0 && w->haystack_dir == NULL &&
              w->words_dir == NULL && w->qa_file == NULL, "vt + fwe need no data");
    config_free(&c);

    const char *M = "], \"methods\": [{\"method\": \"full\"}]}";
    struct {
        const char *what, *workload, *want;
    } bad[] = {
        {"depths", "{\"task\": \"ruler\", \"lengths\": [1024], \"depths\": [0.5]}", "workloads[0].depths: does not apply to ruler"},
        {"unknown task", "{\"task\": \"ruler\", \"tasks\": [\"niah_single_9\"], \"lengths\": [1024]}", "workloads[0].tasks[0]: \"niah_single_9\" is not a RULER task"},
        {"twice", "{\"task\": \"ruler\", \"tasks\": [\"vt\", \"vt\"], \"lengths\": [1024]}", "workloads[0].tasks[1]: \"vt\" appears twice"},
        {"empty tasks", "{\"task\": \"ruler\", \"tasks\": [], \"lengths\": [1024]}", "workloads[0].tasks: must be a non-empty array"},
        {"qa_file without qa_nq", "{\"task\": \"ruler\", \"tasks\": [\"vt\"], \"lengths\": [1024], \"qa_file\": \"x\"}",
         "workloads[0].qa_file: only applies to task qa_nq"},
        {"haystack_dir without essays", "{\"task\": \"ruler\", \"tasks\": [\"niah_single_1\"], \"lengths\": [1024], \"haystack_dir\": \"x\"}",
         "workloads[0].haystack_dir: only applies to the essay-haystack tasks"},
        {"squad_file required", "{\"task\": \"ruler\", \"tasks\": [\"qa_1\"], \"lengths\": [1024]}", "workloads[0].squad_file: required key is missing"},
        {"longeval key", "{\"task\": \"ruler\", \"lengths\": [1024], \"num_lines\": [200]}", "workloads[0].num_lines: only applies to the longeval tasks"},
        {"unknown key", "{\"task\": \"ruler\", \"lengths\": [1024], \"needles\": 3}", "workloads[0].needles: unknown key"},
        {"bad prompt", "{\"task\": \"ruler\", \"lengths\": [1024], \"prompt\": \"raw\"}", "workloads[0].prompt: \"raw\" is not one of"},
        {"no lengths", "{\"task\": \"ruler\"}", "workloads[0].lengths: required key is missing"},
        {"max_new 0", "{\"task\": \"ruler\", \"lengths\": [1024], \"max_new_tokens\": 0}", "workloads[0].max_new_tokens: 0 is out of range"},
        {"task twice", "{\"task\": \"ruler\", \"lengths\": [1024]}, {\"task\": \"ruler\", \"lengths\": [2048]}", "task \"ruler\" appears twice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "{\"workloads\": [%s%s", bad[i].workload, M);
        expect_exit2(bad[i].what, parse_only, text, (const char *[]){"t.json: ", bad[i].want, NULL});
    }
}

/* ---------------------------------------------------------------- summary layout */

static void add_ex(run_data *d, const char *task, int index, int len) {
    example_record e;
    memset(&e, 0, sizeof e);
    e.task = (char *)task, e.index = index, e.target_len = len, e.n_tokens = len - 100, e.depth = 0.5, e.sample = index;
    e.answer = "[\"x\"]";
    memset(e.ids_sha256, 'a', 64);
    run_data_add_example(d, &e);
}

static void add_res(run_data *d, const char *method, const char *task, int index, double score) {
    result_record r;
    memset(&r, 0, sizeof r);
    r.method = (char *)method, r.task = (char *)task, r.index = index, r.score = score, r.prediction = "p";
    run_data_add_result(d, &r);
}

static void test_summary(void) {
    run_data d;
    run_data_init(&d);
    run_data_add_method_all_layers(&d, "full", 0);
    run_data_add_method_all_layers(&d, "dam", 0);
    /* vt listed before niah_single_1 in the file: the layout uses RULER's order; passkey is ignored */
    const char *tasks[3] = {"vt", "niah_single_1", "passkey"};
    for (int t = 0; t < 3; t++)
        for (int i = 0; i < 4; i++) add_ex(&d, tasks[t], i, i < 2 ? 1024 : 2048);
    /* full: niah 1024 {1, 1} = 100; niah 2048 {1, 0} = 50; vt 1024 {0.6, 0.2} = 40; vt 2048 {1, 0.8} = 90;
       dam:  niah 1024 {1, 0} = 50; niah 2048 none; vt 1024 {1/3, 0} = 16.666..; vt 2048 {0, 0} = 0 */
    const double full_niah[4] = {1, 1, 1, 0}, full_vt[4] = {0.6, 0.2, 1, 0.8}, dam_niah[2] = {1, 0}, dam_vt[4] = {1.0 / 3, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        add_res(&d, "full", "niah_single_1", i, full_niah[i]);
        add_res(&d, "full", "vt", i, full_vt[i]);
        add_res(&d, "dam", "vt", i, dam_vt[i]);
        add_res(&d, "full", "passkey", i, 0.0);
    }
    for (int i = 0; i < 2; i++) add_res(&d, "dam", "niah_single_1", i, dam_niah[i]);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    summary_ruler_print(f, &d, "r.h5", true);
    fclose(f);
    /* averages: full 1024 (100 + 40) / 2 = 70; full 2048 (50 + 90) / 2 = 70; dam 1024 (50 + 16.667) / 2 = 33.33;
       dam 2048: niah has no results, so vt alone: 0 */
    const char *want_csv = "method,length,niah_single_1,vt,average\n"
                           "full,1024,100.00,40.00,70.00\n"
                           "full,2048,50.00,90.00,70.00\n"
                           "dam,1024,50.00,16.67,33.33\n"
                           "dam,2048,,0.00,0.00\n";
    CHECK(strcmp(buf, want_csv) == 0, "ruler CSV:\n%s", buf);
    free(buf);
    f = open_memstream(&buf, &len);
    summary_ruler_print(f, &d, "r.h5", false);
    fclose(f);
    const char *want_txt = "r.h5: RULER summary (score = mean per-example string match, %; average = mean over the tasks shown)\n\n"
                           "method  length  niah_single_1      vt  average\n"
                           "full      1024         100.00   40.00    70.00\n"
                           "full      2048          50.00   90.00    70.00\n"
                           "dam       1024          50.00   16.67    33.33\n"
                           "dam       2048              -    0.00     0.00\n"
                           "\n2 examples per (method, task, length)\n";
    CHECK(strcmp(buf, want_txt) == 0, "ruler text:\n%s", buf);
    free(buf);
    run_data_free(&d);
}

/* ---------------------------------------------------------------- real data */

static void test_real_data(const llama_model *m) {
    const char *sh = "../shared/data";
    char nq[512];
    snprintf(nq, sizeof nq, "%s/qa/nq_open_oracle/nq-open-oracle.jsonl.gz", sh);
    if (access(nq, R_OK) != 0 || access("../shared/data/pg_essays", R_OK) != 0 || access("../shared/data/wordlists/wonderwords", R_OK) != 0) {
        printf("  skip: real RULER data not checked (no %s/{pg_essays,wordlists/wonderwords,qa/nq_open_oracle})\n", sh);
        return;
    }
    int lengths[2] = {1024, 2048};
    workload_cfg w = {.task = "ruler", .n_lengths = 2, .lengths = lengths, .samples = 1, .prompt = "completion",
                      .haystack_dir = "../shared/data/pg_essays", .words_dir = "../shared/data/wordlists/wonderwords",
                      .n_tasks = 12, .tasks = (char **)RULER_DEFAULT_TASKS, .qa_file = nq};
    example *ex;
    int n;
    ruler_build(&w, m, 1234, &ex, &n);
    CHECK(n == 24, "real data: %d examples", n);
    for (int i = 0; i < n; i++) {
        const example *e = &ex[i];
        const int S = e->rec.target_len, gap = S - e->n - e->max_new;
        const char *t = e->rec.task;
        int tol = S / 100; /* essays, cwe, fwe: within 1 % */
        if (strcmp(t, "niah_single_1") == 0 || strcmp(t, "vt") == 0) tol = 26;
        if (strcmp(t, "niah_multikey_2") == 0) tol = 32;
        if (strcmp(t, "niah_multikey_3") == 0) tol = 90;
        if (strcmp(t, "qa_nq") == 0) tol = 450; /* one NQ passage: up to ~450 tokens */
        CHECK(gap >= 0 && gap <= tol, "real %s at %d: gap %d (tolerance %d)", t, S, gap, tol);
    }
    printf("  real data: 12 tasks x 1024, 2048 tokens built within tolerance\n");
    for (int i = 0; i < n; i++) example_free(&ex[i]);
    dam_free(ex);
}

int main(void) {
    if (mkdtemp(tmpdir) == NULL) return 1;
    test_scoring();
    test_common();
    make_fixtures();
    test_loaders();
    test_config();
    test_summary();
    llama_model *m = llama_load("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    test_generators(m);
    test_real_data(m);
    llama_free(m);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) printf("  (could not remove %s)\n", tmpdir);
    return test_done("ruler");
}
