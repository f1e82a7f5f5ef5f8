/* test_longeval.c — the LongEval workloads (datasets/longeval*.h):
 *  - the "lines" user message against the upstream template written out here independently, for
 *    given keys and for a small seeded draw (draw order: adjective, noun, value per line);
 *  - the last-integer scoring rule and the topics keyword rule (against upstream's 30 topic names)
 *    on hand-made predictions;
 *  - the gzip JSONL loaders on tiny fixtures this test writes (zlib), and malformed input (missing
 *    file, bad JSON, missing / mistyped keys) exiting with status 2 and one line naming the file
 *    (forked children);
 *  - when ../shared/data/longeval exists, the real 200_lines and 5_topics files: case count and
 *    one case's answer against the file read independently (gzgets + strstr, values checked by
 *    hand with Python's json);
 *  - with the real model: a generated lines example fits its target length with the asked line at
 *    floor(depth · (N − 1)), and the chat style wraps the message in SmolLM2's ChatML turn. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "core/mem.h"
#include "core/rng.h"
#include "datasets/jsonl_gz.h"
#include "datasets/longeval.h"
#include "datasets/longeval_lines.h"
#include "datasets/longeval_topics.h"
#include "harness/config.h"
#include "model/llama.h"
#include "test.h"
#include "test_child.h"

static char tmpdir[] = "/tmp/test_longeval_XXXXXX";

static void write_file(const char *path, const char *text, int gzip) {
    if (gzip) {
        gzFile f = gzopen(path, "wb");
        gzwrite(f, text, (unsigned)strlen(text));
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        fputs(text, f);
        fclose(f);
    }
}


static void load_lines(const char *path) {
    int n;
    longeval_lines_case *c = longeval_lines_load(path, 0, &n);
    longeval_lines_cases_free(c, n);
}
static void load_topics(const char *path) {
    int n;
    longeval_topics_case *c = longeval_topics_load(path, 0, &n);
    longeval_topics_cases_free(c, n);
}

/* Expects loading `text` (written gzip'd as NAME) with `loader` to exit 2 with one line holding
 * the file name and `want`. */
static void expect_bad(void (*loader)(const char *), const char *name, const char *text, const char *want) {
    char path[256], msg[1024];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    if (text) write_file(path, text, 1);
    int lines, st = test_child(loader, path, tmpdir, msg, sizeof msg, &lines);
    CHECK(st == 2 && lines == 1 && strstr(msg, name) && strstr(msg, want), "%s: exit %d, %d lines: %s", name, st, lines, msg);
}

/* The lines message written out independently from workloads.md §1. */
static void expected_lines_text(char *out, size_t cap, char *const *keys, const int *values, int n, int target) {
    size_t k = (size_t)snprintf(out, cap, "%s",
        "Below is a record of lines I want you to remember. Each line begins with 'line <line index>' and "
        "contains a '<REGISTER_CONTENT>' at the end of the line as a numerical value. For each line index, "
        "memorize its corresponding <REGISTER_CONTENT>. At the end of the record, I will ask you to retrieve "
        "the corresponding <REGISTER_CONTENT> of a certain line index. Now the record start:\n\n");
    for (int i = 0; i < n; i++) k += (size_t)snprintf(out + k, cap - k, "line %s: REGISTER_CONTENT is <%d>\n", keys[i], values[i]);
    snprintf(out + k, cap - k, "\nNow the record is over. Tell me what is the <REGISTER_CONTENT> in line %s? I need the number.",
             keys[target]);
}

static void test_text_and_draw(void) {
    char *keys[3] = {"torpid-kid", "oval-underpants", "needless-service"};
    int values[3] = {2416, 33851, 7};
    char want[4096];
    expected_lines_text(want, sizeof want, keys, values, 3, 1);
    char *got = longeval_lines_text(keys, values, 3, 1);
    CHECK(strcmp(got, want) == 0, "lines text differs:\n%s", got);
    CHECK(strstr(got, "line oval-underpants: REGISTER_CONTENT is <33851>\nline needless-service") != NULL, "line format");
    dam_free(got);

    /* a small seeded draw from fixture word lists: 3 adjectives x 4 nouns, one with a hyphen */
    char dir[256];
    snprintf(dir, sizeof dir, "%s/words", tmpdir);
    mkdir(dir, 0755);
    char p[300];
    snprintf(p, sizeof p, "%s/adjectivelist.txt", dir);
    write_file(p, "red\nblue\n\nhigh-pitched\n", 0);
    snprintf(p, sizeof p, "%s/nounlist.txt", dir);
    write_file(p, "cat\ndog\r\nfox\nemu\n", 0);
    longeval_words *w = longeval_words_load(dir);
    CHECK(w->n_adjectives == 3 && w->n_nouns == 4 && strcmp(w->nouns[1], "dog") == 0, "word lists: %d adjectives, %d nouns",
          w->n_adjectives, w->n_nouns);
    const char *adj[3] = {"red", "blue", "high-pitched"}, *noun[4] = {"cat", "dog", "fox", "emu"};
    rng_t r = rng_seed(42, 5);
    char **k;
    int *v;
    longeval_lines_draw(w, &r, 5, &k, &v);
    /* the same draw, independently: per line an adjective, a noun, a value; a repeated key is redrawn */
    rng_t q = rng_seed(42, 5);
    char exp_keys[5][64];
    int exp_vals[5];
    for (int i = 0; i < 5; i++) {
        for (;;) {
            int a = (int)rng_range(&q, 0, 2), b = (int)rng_range(&q, 0, 3), dup = 0;
            snprintf(exp_keys[i], 64, "%s-%s", adj[a], noun[b]);
            for (int j = 0; j < i; j++) dup |= strcmp(exp_keys[j], exp_keys[i]) == 0;
            if (!dup) break;
        }
        exp_vals[i] = (int)rng_range(&q, 1, 50000);
    }
    for (int i = 0; i < 5; i++) {
        CHECK(strcmp(k[i], exp_keys[i]) == 0 && v[i] == exp_vals[i], "line %d: %s %d, want %s %d", i, k[i], v[i], exp_keys[i], exp_vals[i]);
        CHECK(v[i] >= 1 && v[i] <= 50000, "value %d", v[i]);
        for (int j = 0; j < i; j++) CHECK(strcmp(k[i], k[j]) != 0, "keys %d and %d are equal", i, j);
    }
    char *text = longeval_lines_text(k, v, 5, 2);
    expected_lines_text(want, sizeof want, k, v, 5, 2);
    CHECK(strcmp(text, want) == 0, "seeded text differs:\n%s", text);
    dam_free(text);
    /* prefix stability: the first 3 lines of a 5-line draw are a 3-line draw */
    rng_t r3 = rng_seed(42, 5);
    char **k3;
    int *v3;
    longeval_lines_draw(w, &r3, 3, &k3, &v3);
    for (int i = 0; i < 3; i++) CHECK(strcmp(k3[i], k[i]) == 0 && v3[i] == v[i], "prefix line %d", i);
    for (int i = 0; i < 5; i++) dam_free(k[i]);
    for (int i = 0; i < 3; i++) dam_free(k3[i]);
    dam_free(k), dam_free(v), dam_free(k3), dam_free(v3);
    longeval_words_free(w);
}

static void test_scoring(void) {
    CHECK(longeval_last_integer("The number is 123.") == 123, "plain");
    CHECK(longeval_last_integer("12 or 34") == 34, "last of two");
    CHECK(longeval_last_integer("no number here") == -1, "none");
    CHECK(longeval_last_integer("") == -1, "empty");
    CHECK(longeval_last_integer("-5") == 5, "minus is not part of the run");
    CHECK(longeval_last_integer("12,345") == 345, "comma separates runs");
    CHECK(longeval_last_integer("3.14") == 14, "point separates runs");
    CHECK(longeval_last_integer("<007>") == 7, "leading zeros");
    CHECK(longeval_last_integer("0") == 0, "zero");
    CHECK(longeval_last_integer("x 1234567890123456789012 y") == INT64_MAX, "too long");
    CHECK(longeval_last_integer("\xd9\xa3 and 5") == 5, "non-ASCII digits do not count");
    CHECK(longeval_lines_score("2416>\n\nThe answer", 2416) == 1, "completion answer");
    CHECK(longeval_lines_score("The <REGISTER_CONTENT> in line torpid-kid is <2416>.", 2416) == 1, "chat answer");
    CHECK(longeval_lines_score("line 2416 has 17", 2416) == 0, "a later number wins");
    CHECK(longeval_lines_score("nothing", 2416) == 0, "no number");
    CHECK(longeval_lines_score("24160", 2416) == 0, "longer number");

    /* the 30 topics of upstream's conversations.jsonl: the names an answer must beat */
    char *names[30] = {"The psychology of happiness", "The benefits of mindfulness meditation",
        "The effects of climate change on ocean ecosystems", "The future of sustainable agriculture",
        "The history and culture of ancient civilizations", "The impact of social media on communication",
        "The role of education in society", "The benefits of regular exercise", "The impact of technology on human connection",
        "The future of renewable energy technology", "The psychology of creativity",
        "The impact of social media on mental health in adults", "The benefits of reading for pleasure",
        "The effects of stress on the body and mind", "The history and impact of the Renaissance", "The role of art in society",
        "The benefits of a plant-based diet", "The impact of social media on body image", "The future of space tourism",
        "The effects of sleep on overall health", "The role of music in society", "The benefits of volunteering",
        "The impact of technology on privacy and security", "The future of renewable energy storage",
        "The psychology of addiction and recovery", "The benefits of learning a new language",
        "The effects of air pollution on human health", "The history and culture of the Middle Ages",
        "The role of sports in society", "The benefits of spending time in nature"};
#define TOPIC_SCORE(pred, topic) longeval_topics_score(pred, topic, names, 30)
    const char *t = "The benefits of reading for pleasure";
    CHECK(TOPIC_SCORE(" the benefits of reading for pleasure.", t) == 1, "exact, lower case");
    CHECK(TOPIC_SCORE("THE BENEFITS OF READING FOR PLEASURE!!", t) == 1, "upper case, punctuation");
    CHECK(TOPIC_SCORE("reading for pleasure", t) == 1, "2 of 3 content words, no other topic has them");
    CHECK_NEAR(longeval_topic_recall("reading for pleasure", t), 2.0 / 3, 1e-12, 0, "recall 2/3");
    CHECK(TOPIC_SCORE("the benefits of reading", t) == 1, "2 of 3 content words is >= 0.6");
    CHECK(TOPIC_SCORE("pleasure", t) == 0, "1 of 3 content words");
    CHECK(TOPIC_SCORE("the psychology of addiction", "The psychology of creativity") == 0, "1 of 2");
    CHECK(TOPIC_SCORE("The role of music in society", "The role of art in society") == 0, "another topic of the frame: 2/3 < 3/3");
    CHECK(longeval_topics_score("The role of music in society", "The role of art in society", NULL, 0) == 1,
          "without the other names the same answer passes (2 of 3)");
    CHECK(TOPIC_SCORE("the impact of social media on body image", "The impact of social media on communication") == 0,
          "3 of 4, but body image has 4 of 4");
    CHECK(TOPIC_SCORE("The psychology of creativity, the future of space tourism and the role of art in society",
                      "The psychology of creativity") == 0, "listing several topics ties");
    CHECK(TOPIC_SCORE("the history and culture of the middle ages", "The history and culture of the Middle Ages") == 1,
          "4 of 4 beats ancient civilizations' 2 of 4");
    CHECK(TOPIC_SCORE("benefit", "The benefits of volunteering") == 0, "no stemming");
    CHECK(TOPIC_SCORE("", t) == 0, "empty prediction");
    CHECK(TOPIC_SCORE("plant based diet", "The benefits of a plant-based diet") == 1, "hyphen is a word break");
    CHECK_NEAR(longeval_topic_recall("social media and mental health", "The impact of social media on mental health in adults"),
               4.0 / 6, 1e-12, 0, "4 of 6 content words");
}

static const char *LINES_FIXTURE =
    "{\"random_idx\": [\"torpid-kid\", 1], \"expected_number\": 2416, \"num_lines\": 2, "
    "\"correct_line\": \"line torpid-kid: REGISTER_CONTENT is <2416>\\n\", \"prompt\": \"H\\n\\nline oval-bee: "
    "REGISTER_CONTENT is <5>\\nline torpid-kid: REGISTER_CONTENT is <2416>\\n\\nQ torpid-kid?\"}\n"
    "\n"
    "{\"random_idx\": [\"oval-bee\", 0], \"expected_number\": 5, \"num_lines\": 2, \"prompt\": \"line oval-bee: x\"}";

static void test_loaders(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/2_lines.jsonl.gz", tmpdir);
    write_file(path, LINES_FIXTURE, 1);
    int n;
    longeval_lines_case *c = longeval_lines_load(path, 0, &n);
    CHECK(n == 2, "%d cases, want 2 (a blank line and no final newline are fine)", n);
    if (n == 2) {
        CHECK(strcmp(c[0].key, "torpid-kid") == 0 && c[0].position == 1 && c[0].num_lines == 2 && c[0].expected == 2416,
              "case 1: %s %d %d %lld", c[0].key, c[0].position, c[0].num_lines, (long long)c[0].expected);
        CHECK(strncmp(c[0].prompt, "H\n\nline oval-bee: REGISTER_CONTENT is <5>\n", 40) == 0, "case 1 prompt");
        CHECK(c[1].expected == 5 && c[1].position == 0, "case 2");
    }
    longeval_lines_cases_free(c, n);
    c = longeval_lines_load(path, 1, &n);
    CHECK(n == 1, "max_cases 1 gave %d", n);
    longeval_lines_cases_free(c, n);
    /* an uncompressed file reads the same */
    snprintf(path, sizeof path, "%s/plain.jsonl", tmpdir);
    write_file(path, LINES_FIXTURE, 0);
    c = longeval_lines_load(path, 0, &n);
    CHECK(n == 2, "plain file: %d cases", n);
    longeval_lines_cases_free(c, n);

    snprintf(path, sizeof path, "%s/3_topics.jsonl.gz", tmpdir);
    write_file(path,
               "{\"test_id\": 0, \"prompt\": \"USER: I would like to discuss the topic of the role of art in society. ...\", "
               "\"topics\": [\"The role of art in society\", \"The future of space tourism\"], \"prompt_length\": -1}\n",
               1);
    longeval_topics_case *t = longeval_topics_load(path, 0, &n);
    CHECK(n == 1 && t[0].n_topics == 2 && strcmp(t[0].topics[0], "The role of art in society") == 0 && t[0].test_id == 0,
          "topics fixture");
    longeval_topics_cases_free(t, n);

    /* bad input: one line naming the file (and the case / key), exit 2 */
    expect_bad(load_lines, "missing.jsonl.gz", NULL, "cannot open");
    expect_bad(load_lines, "bad_json.jsonl.gz", "{\"prompt\": \"x\"}\n{\"prompt\": \n", ":2: malformed JSON");
    expect_bad(load_lines, "not_object.jsonl.gz", "[1, 2]\n", "not a JSON object");
    expect_bad(load_lines, "no_key.jsonl.gz", "{\"random_idx\": [\"a\", 0], \"num_lines\": 1, \"prompt\": \"line a: \"}\n",
               "missing key \"expected_number\"");
    expect_bad(load_lines, "bad_idx.jsonl.gz",
               "{\"random_idx\": [\"a\", \"0\"], \"expected_number\": 3, \"num_lines\": 1, \"prompt\": \"line a: \"}\n", "random_idx");
    expect_bad(load_lines, "bad_pos.jsonl.gz",
               "{\"random_idx\": [\"a\", 4], \"expected_number\": 3, \"num_lines\": 2, \"prompt\": \"line a: \"}\n", "outside");
    expect_bad(load_lines, "bad_type.jsonl.gz",
               "{\"random_idx\": [\"a\", 0], \"expected_number\": \"3\", \"num_lines\": 1, \"prompt\": \"line a: \"}\n",
               "\"expected_number\" must be an integer");
    expect_bad(load_lines, "no_line.jsonl.gz",
               "{\"random_idx\": [\"zz\", 0], \"expected_number\": 3, \"num_lines\": 1, \"prompt\": \"line a: \"}\n", "no line");
    expect_bad(load_topics, "no_topics.jsonl.gz", "{\"test_id\": 0, \"prompt\": \"x\"}\n", "missing key \"topics\"");
    expect_bad(load_topics, "bad_topic.jsonl.gz", "{\"test_id\": 0, \"prompt\": \"x\", \"topics\": [\"y\"]}\n", "does not occur");
    /* a truncated gzip stream */
    char full[256];
    snprintf(full, sizeof full, "%s/2_lines.jsonl.gz", tmpdir);
    snprintf(path, sizeof path, "%s/truncated.jsonl.gz", tmpdir);
    FILE *in = fopen(full, "rb"), *out = fopen(path, "wb");
    char buf[4096];
    size_t got = fread(buf, 1, sizeof buf, in);
    fwrite(buf, 1, got / 2, out);
    fclose(in), fclose(out);
    expect_bad(load_lines, "truncated.jsonl.gz", NULL, "truncated.jsonl.gz");
}

/* Lines of a gzip'd file and the `"key": <integer>` value of line `which` (1-based), read
 * without jansson. */
static int count_and_get(const char *path, int which, const char *key, long *value) {
    gzFile f = gzopen(path, "rb");
    if (f == NULL) return -1;
    static char line[1 << 20];
    int n = 0;
    while (gzgets(f, line, sizeof line)) {
        if (line[strlen(line) - 1] != '\n' && !gzeof(f)) continue; /* a line longer than the buffer: its rest */
        n++;
        if (n == which) {
            char pat[64];
            snprintf(pat, sizeof pat, "\"%s\": ", key);
            char *p = strstr(line, pat);
            *value = p ? strtol(p + strlen(pat), NULL, 10) : -1;
        }
    }
    gzclose(f);
    return n;
}

static void test_real_files(void) {
    const char *dir = "../shared/data/longeval";
    if (access(dir, R_OK) != 0) {
        printf("  (no %s: real LongEval files not checked)\n", dir);
        return;
    }
    char *path = longeval_case_path(dir, "lines", 200);
    long expected3 = 0;
    int lines = count_and_get(path, 3, "expected_number", &expected3);
    int n;
    longeval_lines_case *c = longeval_lines_load(path, 0, &n);
    CHECK(n == 50 && lines == 50, "200_lines: %d cases, %d lines", n, lines);
    CHECK(n > 2 && c[2].expected == expected3, "case 3 expected %lld, file says %ld", (long long)c[2].expected, expected3);
    /* by hand (Python json): case 1 asks for torpid-kid at position 7, the number is 2416 */
    CHECK(n > 0 && strcmp(c[0].key, "torpid-kid") == 0 && c[0].position == 7 && c[0].expected == 2416 && c[0].num_lines == 200,
          "case 1: %s %d %lld", c[0].key, c[0].position, (long long)c[0].expected);
    CHECK(n > 0 && strstr(c[0].prompt, "line torpid-kid: REGISTER_CONTENT is <2416>\n") != NULL, "case 1 correct line");
    longeval_lines_cases_free(c, n);
    dam_free(path);

    path = longeval_case_path(dir, "topics", 5);
    long dummy;
    lines = count_and_get(path, 1, "test_id", &dummy);
    longeval_topics_case *t = longeval_topics_load(path, 0, &n);
    CHECK(n == 50 && lines == 50, "5_topics: %d cases, %d lines", n, lines);
    CHECK(n > 0 && t[0].n_topics == 5 && strcmp(t[0].topics[0], "The psychology of creativity") == 0,
          "5_topics case 1 answer \"%s\"", n > 0 ? t[0].topics[0] : "");
    longeval_topics_cases_free(t, n);
    dam_free(path);
}

static const llama_model *g_model;
static workload_cfg g_cfg;

static void build_only(const char *unused) {
    (void)unused;
    example *ex;
    int n;
    longeval_build(&g_cfg, g_model, 1, &ex, &n);
}

static void test_with_model(void) {
    llama_model *m = llama_load("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    g_model = m;
    /* word lists of 40 adjectives x 40 nouns */
    char dir[256], p[300], words[4096];
    snprintf(dir, sizeof dir, "%s/words40", tmpdir);
    mkdir(dir, 0755);
    const char *kinds[2] = {"adjectivelist.txt", "nounlist.txt"};
    for (int f = 0; f < 2; f++) {
        size_t k = 0;
        for (int i = 0; i < 40; i++) k += (size_t)snprintf(words + k, sizeof words - k, "%s%c%d\n", f ? "noun" : "adj", 'a' + i % 26, i);
        snprintf(p, sizeof p, "%s/%s", dir, kinds[f]);
        write_file(p, words, 0);
    }
    int lengths[1] = {300};
    double depths[1] = {0.5};
    workload_cfg w = {.task = "longeval_lines", .n_lengths = 1, .lengths = lengths, .n_depths = 1, .depths = depths,
                      .samples = 1, .max_new_tokens = 10, .source = "generate", .prompt = "completion", .words_dir = dir};
    example *ex;
    int n;
    longeval_build(&w, m, 1234, &ex, &n);
    CHECK(n == 1 && ex[0].n <= 300 && ex[0].n > 250, /* one more line would not fit: lines take ~35 tokens here */ "generated example: %d examples, %d tokens", n, n ? ex[0].n : 0);
    CHECK(ex[0].rec.target_len == 300 && ex[0].rec.depth == 0.5 && strlen(ex[0].rec.ids_sha256) == 64, "record");
    /* the decoded prompt is the template with its own lines, the asked line at floor(0.5 (N - 1)) */
    char *text = tok_decode(m->tok, ex[0].ids, ex[0].n, false);
    char *keys[256];
    int values[256], nl = 0;
    for (char *q = strstr(text, "\n\nline "); q && nl < 256; q = strstr(q, "\nline ")) {
        q += q[1] == '\n' ? 2 : 1;
        char key[64];
        int val;
        if (sscanf(q, "line %63[^:]: REGISTER_CONTENT is <%d>", key, &val) != 2) break;
        keys[nl] = dam_strdup(key, "key"), values[nl++] = val;
    }
    int target = (nl - 1) / 2;
    static char want[1 << 16];
    if (nl > 0) {
        expected_lines_text(want, sizeof want, keys, values, nl, target);
        size_t k = strlen(want);
        snprintf(want + k, sizeof want - k, "\nAnswer: The <REGISTER_CONTENT> in line %s is <", keys[target]);
        CHECK(strcmp(text, want) == 0, "decoded prompt differs from the template with %d lines:\n%s", nl, text);
        CHECK(values[target] == atoi(ex[0].rec.answer), "answer %s, line %d holds %d", ex[0].rec.answer, target, values[target]);
    }
    CHECK(nl >= 4, "only %d lines in 300 tokens", nl);
    printf("  generated: %d lines in %d tokens (target 300), asked line %d, answer %s\n", nl, ex[0].n, target, ex[0].rec.answer);
    for (int i = 0; i < nl; i++) dam_free(keys[i]);
    dam_free(text);
    /* the same seed rebuilds the same ids; another seed does not */
    example *ex2;
    int n2;
    longeval_build(&w, m, 1234, &ex2, &n2);
    CHECK(strcmp(ex2[0].rec.ids_sha256, ex[0].rec.ids_sha256) == 0, "same seed, other ids");
    example_free(&ex2[0]), dam_free(ex2);
    longeval_build(&w, m, 99, &ex2, &n2);
    CHECK(strcmp(ex2[0].rec.ids_sha256, ex[0].rec.ids_sha256) != 0, "another seed, same ids");
    example_free(&ex2[0]), dam_free(ex2);
    example_free(&ex[0]), dam_free(ex);

    /* a length too short for one line: exit 2 */
    int tiny[1] = {64};
    g_cfg = w, g_cfg.lengths = tiny;
    char msg[1024];
    int lines, st = test_child(build_only, NULL, tmpdir, msg, sizeof msg, &lines);
    CHECK(st == 2 && lines == 1 && strstr(msg, "length 64 is too small for one line"), "tiny length: exit %d: %s", st, msg);

    /* chat style on a topics file: the message is SmolLM2's ChatML user turn */
    char le[256];
    snprintf(le, sizeof le, "%s/le", tmpdir);
    mkdir(le, 0755);
    snprintf(p, sizeof p, "%s/topics", le);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/topics/2_topics.jsonl.gz", le);
    write_file(p,
               "{\"test_id\": 0, \"prompt\": \"Below is a record. USER: I would like to discuss the topic of the role of art "
               "in society. Now the record ends.\", \"topics\": [\"The role of art in society\", \"The future of space tourism\"]}\n",
               1);
    snprintf(p, sizeof p, "%s/topics/topics.txt", le);
    write_file(p, "The role of art in society\nThe future of space tourism\nThe role of music in society\n", 0);
    int sizes[1] = {2};
    workload_cfg wt = {.task = "longeval_topics", .samples = 1, .max_new_tokens = 50, .source = NULL, .prompt = "chat",
                       .data_dir = le, .n_sizes = 1, .sizes = sizes};
    longeval_build(&wt, m, 1, &ex, &n);
    text = tok_decode(m->tok, ex[0].ids, ex[0].n, true);
    const char *tail = "Now the record ends.<|im_end|>\n<|im_start|>assistant\n";
    CHECK(n == 1 && strncmp(text, "<|im_start|>", 12) == 0 &&
              strstr(text, "<|im_end|>\n<|im_start|>user\nBelow is a record. USER: I would like") != NULL &&
              strlen(text) > strlen(tail) && strcmp(text + strlen(text) - strlen(tail), tail) == 0,
          "chat prompt:\n%s", text);
    CHECK(strcmp(ex[0].rec.answer, "The role of art in society") == 0 && ex[0].rec.depth == 0 && ex[0].rec.target_len == ex[0].n,
          "topics record");
    CHECK(ex[0].n_others == 4, "others: the case's other topic and the 3 names, got %d", ex[0].n_others);
    CHECK(longeval_score(&ex[0], "The role of art in society.") == 1 && longeval_score(&ex[0], "space tourism") == 0 &&
              longeval_score(&ex[0], "the role of music in society") == 0, "score");
    dam_free(text);
    example_free(&ex[0]), dam_free(ex);
    /* lines file mode on the 2-case fixture: the stored prompt verbatim + the answer prefix */
    snprintf(p, sizeof p, "%s/lines", le);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/lines/2_lines.jsonl.gz", le);
    write_file(p, LINES_FIXTURE, 1);
    workload_cfg wl = {.task = "longeval_lines", .samples = 2, .max_new_tokens = 10, .source = "file", .prompt = "completion",
                       .data_dir = le, .n_sizes = 1, .sizes = sizes};
    longeval_build(&wl, m, 1, &ex, &n);
    CHECK(n == 2, "lines file: %d examples", n);
    text = tok_decode(m->tok, ex[0].ids, ex[0].n, false);
    CHECK(strcmp(text, "H\n\nline oval-bee: REGISTER_CONTENT is <5>\nline torpid-kid: REGISTER_CONTENT is <2416>\n\nQ "
                       "torpid-kid?\nAnswer: The <REGISTER_CONTENT> in line torpid-kid is <") == 0,
          "file prompt:\n%s", text);
    dam_free(text);
    text = tok_decode(m->tok, ex[0].answer_ids, ex[0].n_answer, false);
    CHECK(strcmp(ex[0].rec.answer, "2416") == 0 && strcmp(text, "2416>") == 0 && ex[0].rec.depth == 1.0 &&
              ex[1].rec.depth == 0.0 && ex[0].rec.target_len == ex[0].n && ex[1].rec.sample == 1 && ex[1].rec.index == 1,
          "file records: answer %s, gold \"%s\", depths %g %g", ex[0].rec.answer, text, ex[0].rec.depth, ex[1].rec.depth);
    CHECK(longeval_score(&ex[0], "2416>\n") == 1 && longeval_score(&ex[1], "2416>") == 0, "file scores");
    dam_free(text);
    for (int i = 0; i < n; i++) example_free(&ex[i]);
    dam_free(ex);
    /* the file asks for more cases than it has */
    g_cfg = wt, g_cfg.samples = 3;
    st = test_child(build_only, NULL, tmpdir, msg, sizeof msg, &lines);
    CHECK(st == 2 && lines == 1 && strstr(msg, "2_topics.jsonl.gz: has 1 cases, samples asks for 3"), "samples: exit %d: %s", st, msg);
    llama_free(m);
}

/* The workload keys: per-task defaults in the parsed config and the resolved JSON. */
static void test_config_defaults(void) {
    run_config c;
    config_parse("{\"workloads\": [{\"task\": \"longeval_lines\", \"lengths\": [512]},"
                 " {\"task\": \"longeval_topics\", \"num_topics\": [1, 5], \"prompt\": \"chat\"}],"
                 " \"methods\": [{\"method\": \"full\"}]}",
                 "t.json", NULL, 0, &c);
    const workload_cfg *l = &c.workloads[0], *t = &c.workloads[1];
    CHECK(strcmp(l->source, "generate") == 0 && strcmp(l->prompt, "completion") == 0 && l->max_new_tokens == 10 &&
              l->samples == 1 && strcmp(l->words_dir, "data/wordlists/wonderwords") == 0 && l->data_dir == NULL &&
              l->n_depths == 1 && l->depths[0] == 0.5,
          "lines defaults");
    CHECK(t->source == NULL && strcmp(t->prompt, "chat") == 0 && t->max_new_tokens == 50 && t->samples == 50 &&
              strcmp(t->data_dir, "data/longeval") == 0 && t->n_sizes == 2 && t->sizes[1] == 5 && t->n_lengths == 0,
          "topics defaults");
    CHECK(strstr(c.resolved_json, "\"words_dir\": \"data/wordlists/wonderwords\"") != NULL &&
              strstr(c.resolved_json, "\"num_topics\": [") != NULL,
          "resolved config:\n%s", c.resolved_json);
    config_free(&c);
}

int main(void) {
    if (mkdtemp(tmpdir) == NULL) return 1;
    test_config_defaults();
    test_text_and_draw();
    test_scoring();
    test_loaders();
    test_real_files();
    test_with_model();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return test_done("longeval");
}
