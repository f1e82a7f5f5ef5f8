/* test_tokenizer.c — model/tokenizer.c against llama.cpp, token for token.
 *
 * Reference data, written by tests/fixtures/gen/make_tokenizer_cases.py from llama.cpp
 * (llama-cpp-python 0.3.36):
 *   tests/fixtures/tokenizer_cases.json        byte-level BPE, the default model (SmolLM2);
 *   tests/fixtures/tokenizer_cases_spm_small.json  SentencePiece BPE on tests/fixtures/spm_small_vocab.json (written as a GGUF at run time),
 *                                              a 2,107-token vocabulary cut from Gemma-3's (committed:
 *                                              always runs);
 *   tests/fixtures/tokenizer_cases_gemma3.json SentencePiece BPE, Gemma-3-270M's full vocabulary (runs
 *                                              when models/gemma-3-270m-q4_k_m.gguf is present, else
 *                                              prints "skip:");
 *   tests/fixtures/tokenizer_cases_qwen2.json  byte-level BPE with pre "qwen2", Qwen2.5-Coder-0.5B's
 *                                              vocabulary (151,936 ids; plus Qwen strings: ChatML, FIM
 *                                              specials, single-digit splitting, CJK); runs when
 *                                              models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf is present,
 *                                              else prints "skip:".
 * Checked here, for each:
 *   - every case: tok_encode(add_special, parse_special) == llama_tokenize's ids, also with
 *     parse_special = false and add_special = false (= the same ids without the BOS where the model
 *     adds one); tok_decode(special = true / false) == llama_detokenize's bytes;
 *     decode(encode(text)) == text wherever llama.cpp round-trips;
 *   - the same cases under other settings ("variants": BPE: tokenizer.ggml.pre replaced; SPM:
 *     add_space_prefix = true, add_bos_token = false; set in memory, as the fixture script set them in
 *     a vocab-only copy for llama.cpp);
 *   - bos / eos / the end-of-generation set over the whole vocabulary, pieces of sampled ids;
 *   - a 200 KB string without spaces encodes (and round-trips); the time for ~100 KB of prose is
 *     printed, not asserted.
 * Run from the repository root: make build/tests/test_tokenizer && build/tests/test_tokenizer */
#define _POSIX_C_SOURCE 199309L
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "tests/test.h"

#define MODEL_PATH "models/SmolLM2-135M-Instruct.Q4_1.gguf"
#define FIXTURE_PATH "tests/fixtures/tokenizer_cases.json"
#define SPM_SMALL_FIXTURE "tests/fixtures/tokenizer_cases_spm_small.json"
#define SPM_SMALL_VOCAB "tests/fixtures/spm_small_vocab.json"
#define GEMMA3_FIXTURE "tests/fixtures/tokenizer_cases_gemma3.json"
#define QWEN2_FIXTURE "tests/fixtures/tokenizer_cases_qwen2.json"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Decodes a hex string into a new malloc'd buffer; *n gets the byte count. */
static char *unhex(const char *h, size_t *n) {
    size_t len = strlen(h) / 2;
    char *b = malloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        b[i] = (char)v;
    }
    b[len] = 0;
    *n = len;
    return b;
}

/* The exact bytes of a case ("text" or "hex"), malloc'd. */
static char *case_bytes(const json_t *c, size_t *n) {
    const json_t *tx = json_object_get(c, "text");
    if (tx) {
        *n = json_string_length(tx);
        char *b = malloc(*n + 1);
        memcpy(b, json_string_value(tx), *n);
        b[*n] = 0;
        return b;
    }
    return unhex(json_string_value(json_object_get(c, "hex")), n);
}

/* Compares ids with a JSON array; prints the first difference. */
static int ids_equal(const int32_t *ids, int n, const json_t *want, const char *name, const char *what) {
    int m = (int)json_array_size(want);
    int k = 0;
    while (k < n && k < m && ids[k] == (int32_t)json_integer_value(json_array_get(want, (size_t)k))) k++;
    if (k == n && k == m) return 1;
    fprintf(stderr, "  %s (%s): %d ids, llama.cpp %d; first difference at %d: ours %d, llama.cpp %d\n", name, what, n,
            m, k, k < n ? ids[k] : -1, k < m ? (int)json_integer_value(json_array_get(want, (size_t)k)) : -1);
    return 0;
}

/* tok_decode_len result compared with bytes (decoded text may contain NUL). */
static int decoded_equal(const tokenizer *t, const int32_t *ids, int n, bool special, const char *want, size_t wn) {
    size_t dn;
    char *d = tok_decode_len(t, ids, n, special, &dn);
    int ok = dn == wn && memcmp(d, want, wn) == 0 && d[dn] == 0;
    dam_free(d);
    return ok;
}

/* spm: the fixture's round trip is detokenize without special rendering (which drops the BOS). */
static void check_cases(const tokenizer *t, const json_t *cases, bool spm) {
    const bool bos = tok_bos(t) >= 0 && spm; /* the SPM fixtures' models add a BOS; SmolLM2 adds nothing */
    for (size_t i = 0; i < json_array_size(cases); i++) {
        const json_t *c = json_array_get(cases, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        size_t n;
        char *text = case_bytes(c, &n);
        int32_t *ids;
        int k = tok_encode(t, text, n, true, true, &ids);
        CHECK(ids_equal(ids, k, json_object_get(c, "ids"), name, "parse_special"), "case %s: ids differ", name);

        int32_t *ids2;
        int k2 = tok_encode(t, text, n, false, true, &ids2);
        const int skip = bos && k > 0 && ids[0] == tok_bos(t); /* add_special=false: no BOS */
        CHECK(k2 == k - skip && memcmp(ids + skip, ids2, (size_t)k2 * sizeof(int32_t)) == 0,
              "case %s: add_special=false differs from the ids without the added BOS", name);
        dam_free(ids2);

        const json_t *plain = json_object_get(c, "ids_plain");
        k2 = tok_encode(t, text, n, true, false, &ids2);
        CHECK(ids_equal(ids2, k2, plain ? plain : json_object_get(c, "ids"), name, "no parse_special"),
              "case %s: ids with parse_special=false differ", name);
        dam_free(ids2);

        size_t dn, pn;
        char *detok = unhex(json_string_value(json_object_get(c, "detok_hex")), &dn);
        const json_t *dp = json_object_get(c, "detok_plain_hex");
        char *detok_plain = dp ? unhex(json_string_value(dp), &pn) : NULL;
        CHECK(decoded_equal(t, ids, k, true, detok, dn), "case %s: decode(special=true) != llama_detokenize", name);
        CHECK(decoded_equal(t, ids, k, false, dp ? detok_plain : detok, dp ? pn : dn),
              "case %s: decode(special=false) != llama_detokenize", name);
        if (json_is_true(json_object_get(c, "roundtrip")))
            CHECK(decoded_equal(t, ids, k, !spm, text, n), "case %s: decode(encode(text)) != text", name);
        free(detok);
        free(detok_plain);
        dam_free(ids);
        free(text);
    }
}

/* The cases of one variant: the base case of the same name gives the text. */
/* A variant sets one metadata value: "pre" (tokenizer.ggml.pre, a string) or "key" with a BOOL
 * "value"; the key must exist in the file (it is set in memory, then restored). */
static void check_variant(gguf_file *f, const json_t *var, const json_t *base) {
    const json_t *jpre = json_object_get(var, "pre");
    const char *key = jpre ? "tokenizer.ggml.pre" : json_string_value(json_object_get(var, "key"));
    const char *pre = jpre ? json_string_value(jpre) : key;
    gguf_value *v = NULL;
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (gguf_str_eq(f->kv[i].key, key)) v = &f->kv[i].value;
    CHECK(v != NULL, "model has no %s", key);
    if (!v) return;
    gguf_value saved = *v;
    if (jpre) v->str = (gguf_str){pre, strlen(pre)};
    else v->b = json_is_true(json_object_get(var, "value"));
    tokenizer *t = tok_load(f);
    *v = saved;

    if (jpre) CHECK(strcmp(tok_pre_name(t), pre) == 0, "variant %s: pre name %s", pre, tok_pre_name(t));
    CHECK(tok_bos(t) == json_integer_value(json_object_get(var, "bos")), "variant %s: bos", pre);
    CHECK(tok_eos(t) == json_integer_value(json_object_get(var, "eos")), "variant %s: eos", pre);
    const json_t *cases = json_object_get(var, "cases");
    int failed_before = test_failures;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        const json_t *c = json_array_get(cases, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        const json_t *bc = NULL;
        for (size_t j = 0; j < json_array_size(base) && !bc; j++)
            if (strcmp(json_string_value(json_object_get(json_array_get(base, j), "name")), name) == 0)
                bc = json_array_get(base, j);
        CHECK(bc != NULL, "variant %s: case %s has no base case", pre, name);
        if (!bc) continue;
        size_t n;
        char *text = case_bytes(bc, &n);
        int32_t *ids;
        int k = tok_encode(t, text, n, true, true, &ids);
        char what[96];
        snprintf(what, sizeof what, "pre %s", pre);
        CHECK(ids_equal(ids, k, json_object_get(c, "ids"), name, what), "variant %s: case %s: ids differ", pre, name);
        const json_t *dh = json_object_get(c, "detok_hex");
        size_t dn = n;
        char *detok = dh ? unhex(json_string_value(dh), &dn) : NULL;
        CHECK(decoded_equal(t, ids, k, true, dh ? detok : text, dn), "variant %s: case %s: decode differs", pre, name);
        free(detok);
        dam_free(ids);
        free(text);
    }
    printf("  variant %-16s %zu cases%s\n", pre, json_array_size(cases),
           test_failures > failed_before ? " (FAILURES)" : " ok");
    tok_free(t);
}

/* Deterministic letters (no spaces), for the long-input check. */
static char *letters(size_t n, uint32_t seed) {
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        s[i] = (char)('a' + (seed >> 24) % 26);
    }
    s[n] = 0;
    return s;
}

/* special: decode with special rendering (false where the model adds a BOS, which renders as text). */
static void check_long_inputs(const tokenizer *t, const json_t *cases, bool special) {
    /* 200 KB without spaces: one pre-token of 200,000 letters; then digits and punctuation runs. */
    const size_t n = 200 * 1000;
    char *inputs[3];
    inputs[0] = letters(n, 12345);
    inputs[1] = malloc(n + 1);
    inputs[2] = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        inputs[1][i] = (char)('0' + (i * 7) % 10);
        inputs[2][i] = "=-+*/"[i % 5];
    }
    inputs[1][n] = inputs[2][n] = 0;
    const char *what[3] = {"letters", "digits", "punctuation"};
    for (int k = 0; k < 3; k++) {
        double t0 = now_s();
        int32_t *ids;
        int m = tok_encode(t, inputs[k], n, true, true, &ids);
        double dt = now_s() - t0;
        CHECK(m > 0, "200 KB %s: no tokens", what[k]);
        char *d = tok_decode(t, ids, m, special);
        CHECK(strlen(d) == n && memcmp(d, inputs[k], n) == 0, "200 KB %s: decode(encode(x)) != x", what[k]);
        printf("  200 KB of %-11s without spaces: %7d tokens in %7.1f ms\n", what[k], m, 1e3 * dt);
        dam_free(d);
        dam_free(ids);
        free(inputs[k]);
    }

    /* ~100 KB of English prose: the prose-like fixture cases repeated. */
    const char *pick[] = {"prose", "sentence_mixed_case", "contractions", "newlines_multiple", "urls", NULL};
    size_t cap = 110 * 1000, len = 0;
    char *prose = malloc(cap + 1024);
    while (len < 100 * 1000) {
        for (int p = 0; pick[p]; p++)
            for (size_t i = 0; i < json_array_size(cases); i++) {
                const json_t *c = json_array_get(cases, i);
                if (strcmp(json_string_value(json_object_get(c, "name")), pick[p]) != 0) continue;
                const char *s = json_string_value(json_object_get(c, "text"));
                size_t sl = strlen(s);
                memcpy(prose + len, s, sl);
                len += sl;
                prose[len++] = ' ';
            }
    }
    int32_t *ids;
    double best = 1e9;
    int m = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_s();
        m = tok_encode(t, prose, len, true, true, &ids);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
        if (rep < 4) dam_free(ids);
    }
    char *d = tok_decode(t, ids, m, special);
    CHECK(strlen(d) == len && memcmp(d, prose, len) == 0, "100 KB prose: decode(encode(x)) != x");
    printf("  %zu bytes of prose: %d tokens in %.2f ms (best of 5)\n", len, m, 1e3 * best);
    dam_free(d);
    dam_free(ids);
    free(prose);
}

/* Behaviour that llama.cpp cannot show (it throws): code points above U+10FFFF. */
static void check_beyond_unicode(const tokenizer *t) {
    const char bad[] = "\xf4\x90\x80\x80";
    const char fffd4[] = "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd";
    int32_t *a, *b;
    int na = tok_encode(t, bad, 4, true, true, &a);
    int nb = tok_encode(t, fffd4, 12, true, true, &b);
    CHECK(na == nb && memcmp(a, b, (size_t)na * sizeof(int32_t)) == 0,
          "F4 90 80 80 should encode as four U+FFFD (each byte invalid)");
    dam_free(a);
    dam_free(b);
}

/* The checks every fixture gets: vocabulary size, bos / eos, the end-of-generation set over every id,
 * pieces of sampled ids, the cases and the variants. Returns the tokenizer (caller frees). */
static tokenizer *check_fixture(gguf_file *f, const json_t *fx, const char *label) {
    tokenizer *t = tok_load(f);
    const bool spm = json_object_get(fx, "vocab_type") != NULL;
    CHECK(tok_vocab_size(t) == json_integer_value(json_object_get(fx, "n_vocab")), "%s: vocab size %d", label,
          tok_vocab_size(t));
    CHECK(tok_bos(t) == json_integer_value(json_object_get(fx, "bos")), "%s: bos %d", label, tok_bos(t));
    CHECK(tok_eos(t) == json_integer_value(json_object_get(fx, "eos")), "%s: eos %d", label, tok_eos(t));

    const json_t *eog = json_object_get(fx, "eog_ids");
    char *want_eog = calloc((size_t)tok_vocab_size(t) + 4, 1);
    for (size_t i = 0; i < json_array_size(eog); i++) {
        json_int_t id = json_integer_value(json_array_get(eog, i));
        if (id >= 0 && id < tok_vocab_size(t)) want_eog[id] = 1;
    }
    int bad_eog = 0;
    for (int32_t id = -2; id < tok_vocab_size(t) + 2; id++) {
        bool want = id >= 0 && id < tok_vocab_size(t) && want_eog[id];
        if (tok_is_eog(t, id) != want && bad_eog++ < 5)
            CHECK(0, "%s: tok_is_eog(%d) = %d, llama.cpp %d", label, id, tok_is_eog(t, id), want);
    }
    CHECK(bad_eog == 0, "%s: %d ids differ in the end-of-generation set", label, bad_eog);
    free(want_eog);

    const json_t *pieces = json_object_get(fx, "pieces");
    for (size_t i = 0; i < json_array_size(pieces); i++) {
        const json_t *p = json_array_get(pieces, i);
        int32_t id = (int32_t)json_integer_value(json_object_get(p, "id"));
        char buf[256];
        size_t n = tok_piece(t, id, true, buf, sizeof buf);
        size_t wn;
        char *want = unhex(json_string_value(json_object_get(p, "special_hex")), &wn);
        CHECK(n == wn && memcmp(buf, want, wn) == 0, "%s: piece(%d, special) differs", label, id);
        free(want);
        n = tok_piece(t, id, false, buf, sizeof buf);
        want = unhex(json_string_value(json_object_get(p, "plain_hex")), &wn);
        CHECK(n == wn && memcmp(buf, want, wn) == 0, "%s: piece(%d, plain) differs", label, id);
        free(want);
    }

    const json_t *cases = json_object_get(fx, "cases");
    CHECK(json_array_size(cases) >= 60, "%s: only %zu cases", label, json_array_size(cases));
    int failed_before = test_failures;
    check_cases(t, cases, spm);
    printf("  %s: %zu cases%s\n", label, json_array_size(cases), test_failures > failed_before ? " (FAILURES)" : " ok");
    const json_t *variants = json_object_get(fx, "variants");
    for (size_t i = 0; i < json_array_size(variants); i++) check_variant(f, json_array_get(variants, i), cases);
    return t;
}

static json_t *load_fixture(const char *path) {
    json_error_t err;
    json_t *fx = json_load_file(path, JSON_ALLOW_NUL, &err);
    CHECK(fx != NULL, "%s:%d: %s (run from the repository root)", path, err.line, err.text);
    return fx;
}

/* Writes the vocabulary-only GGUF (v3, no tensors) of the JSON vocabulary fixture `json_path`
 * (tests/fixtures/spm_small_vocab.json: key -> string, integer (uint32), boolean, or the arrays
 * tokenizer.ggml.tokens (strings), scores (float32) and token_type (int32)) to `out`, so no binary
 * file is committed. Returns 0, or -1 if the fixture cannot be read. */
static void put_u32(FILE *fp, uint32_t v) { fwrite(&v, 4, 1, fp); }
static void put_u64(FILE *fp, uint64_t v) { fwrite(&v, 8, 1, fp); }
static void put_str(FILE *fp, const char *s) { put_u64(fp, strlen(s)); fwrite(s, 1, strlen(s), fp); }
static int write_vocab_gguf(const char *json_path, const char *out) {
    json_t *v = json_load_file(json_path, 0, NULL);
    if (!json_is_object(v)) return -1;
    FILE *fp = fopen(out, "wb");
    if (!fp) return -1;
    fwrite("GGUF", 1, 4, fp);
    put_u32(fp, 3);
    put_u64(fp, 0); /* tensors */
    put_u64(fp, json_object_size(v) - (json_object_get(v, "note") ? 1 : 0));
    const char *key;
    json_t *x;
    json_object_foreach(v, key, x) {
        if (strcmp(key, "note") == 0) continue;
        put_str(fp, key);
        if (json_is_string(x)) put_u32(fp, 8), put_str(fp, json_string_value(x));
        else if (json_is_boolean(x)) put_u32(fp, 7), fputc(json_is_true(x), fp);
        else if (json_is_integer(x)) put_u32(fp, 4), put_u32(fp, (uint32_t)json_integer_value(x));
        else {
            const int strs = strcmp(key, "tokenizer.ggml.tokens") == 0, f32 = strcmp(key, "tokenizer.ggml.scores") == 0;
            put_u32(fp, 9);
            put_u32(fp, strs ? 8 : f32 ? 6 : 5);
            put_u64(fp, json_array_size(x));
            size_t i;
            json_t *e;
            json_array_foreach(x, i, e) {
                if (strs) put_str(fp, json_string_value(e));
                else if (f32) { float f = (float)json_number_value(e); fwrite(&f, 4, 1, fp); }
                else { int32_t k = (int32_t)json_integer_value(e); fwrite(&k, 4, 1, fp); }
            }
        }
    }
    fclose(fp);
    json_decref(v);
    return 0;
}

/* The SentencePiece fixtures: the small committed vocabulary always, Gemma-3's when present. */
static void check_spm(void) {
    const char *paths[2] = {SPM_SMALL_FIXTURE, GEMMA3_FIXTURE};
    for (int k = 0; k < 2; k++) {
        json_t *fx = load_fixture(paths[k]);
        if (!fx) continue;
        const char *model = json_string_value(json_object_get(fx, "model_path"));
        CHECK(model != NULL, "%s: no model_path", paths[k]);
        char small[64] = "/tmp/spm_small_vocab_XXXXXX";
        if (k == 0) { /* the small vocabulary is committed as JSON and written out as a GGUF here */
            int fd = mkstemp(small);
            if (fd >= 0) close(fd);
            CHECK(fd >= 0 && write_vocab_gguf(SPM_SMALL_VOCAB, small) == 0, "cannot write %s from %s", small, SPM_SMALL_VOCAB);
            model = small;
        }
        if (model && access(model, R_OK) != 0) {
            CHECK(k == 1, "%s is missing (it is committed)", model);
            printf("skip: %s absent (scripts/fetch-model.sh gemma3-270m): Gemma-3 tokenizer cases not run\n", model);
        } else if (model) {
            size_t mem0 = dam_mem_in_use();
            gguf_file *f = gguf_open(model);
            tokenizer *t = check_fixture(f, fx, k == 0 ? "spm-small" : "gemma3");
            /* Gemma-3: BOS 2, EOS 1, and <end_of_turn> (106) ends generation */
            if (k == 1)
                CHECK(tok_bos(t) == 2 && tok_eos(t) == 1 && tok_is_eog(t, 106) && tok_is_eog(t, 1),
                      "gemma3: bos %d eos %d eog(106) %d", tok_bos(t), tok_eos(t), tok_is_eog(t, 106));
            if (k == 1) check_long_inputs(t, json_object_get(fx, "cases"), false);
            tok_free(t);
            gguf_close(f);
            CHECK(dam_mem_in_use() == mem0, "%s: %zu bytes still allocated", model, dam_mem_in_use() - mem0);
        }
        if (k == 0) unlink(small);
        json_decref(fx);
    }
}

/* Qwen2's byte-level BPE vocabulary, when the model is present. */
static void check_qwen2(void) {
    json_t *fx = load_fixture(QWEN2_FIXTURE);
    if (!fx) return;
    const char *model = json_string_value(json_object_get(fx, "model_path"));
    CHECK(model != NULL, "%s: no model_path", QWEN2_FIXTURE);
    if (model && access(model, R_OK) != 0) {
        printf("skip: %s absent (scripts/fetch-model.sh qwen2.5-coder-0.5b): Qwen2 tokenizer cases not run\n", model);
    } else if (model) {
        size_t mem0 = dam_mem_in_use();
        gguf_file *f = gguf_open(model);
        tokenizer *t = check_fixture(f, fx, "qwen2");
        /* <|endoftext|> 151643 is BOS (not added) and ends generation; <|im_end|> 151645 is EOS */
        CHECK(strcmp(tok_pre_name(t), "qwen2") == 0 && tok_bos(t) == 151643 && tok_eos(t) == 151645 &&
                  tok_is_eog(t, 151643) && tok_is_eog(t, 151645) && !tok_is_eog(t, 151644),
              "qwen2: pre %s bos %d eos %d", tok_pre_name(t), tok_bos(t), tok_eos(t));
        check_long_inputs(t, json_object_get(fx, "cases"), true);
        tok_free(t);
        gguf_close(f);
        CHECK(dam_mem_in_use() == mem0, "%s: %zu bytes still allocated", model, dam_mem_in_use() - mem0);
    }
    json_decref(fx);
}

int main(void) {
    if (access(MODEL_PATH, R_OK) != 0) {
        fprintf(stderr, "test_tokenizer: %s is missing (run `make model` from the repository root)\n", MODEL_PATH);
        return 1;
    }
    json_error_t err;
    json_t *fx = json_load_file(FIXTURE_PATH, JSON_ALLOW_NUL, &err);
    if (!fx) {
        fprintf(stderr, "test_tokenizer: %s:%d: %s\n", FIXTURE_PATH, err.line, err.text);
        return 1;
    }
    size_t mem0 = dam_mem_in_use();
    gguf_file *f = gguf_open(MODEL_PATH);
    tokenizer *t = tok_load(f);

    CHECK(strcmp(tok_pre_name(t), "smollm") == 0, "pre is %s", tok_pre_name(t));
    CHECK(tok_vocab_size(t) == json_integer_value(json_object_get(fx, "n_vocab")), "vocab size %d", tok_vocab_size(t));
    CHECK(tok_bos(t) == json_integer_value(json_object_get(fx, "bos")), "bos %d", tok_bos(t));
    CHECK(tok_eos(t) == json_integer_value(json_object_get(fx, "eos")), "eos %d", tok_eos(t));
    CHECK(tok_bos(t) == 1 && tok_eos(t) == 2, "bos %d eos %d (expected 1, 2)", tok_bos(t), tok_eos(t));

    /* End of generation, over every id: llama.cpp gives {0 <|endoftext|>, 2 <|im_end|>, 4 <reponame>}. */
    const json_t *eog = json_object_get(fx, "eog_ids");
    int n_eog = 0;
    for (int32_t id = -2; id < tok_vocab_size(t) + 2; id++) {
        bool want = false;
        for (size_t i = 0; i < json_array_size(eog); i++) want |= json_integer_value(json_array_get(eog, i)) == id;
        CHECK(tok_is_eog(t, id) == want, "tok_is_eog(%d) = %d, llama.cpp %d", id, tok_is_eog(t, id), want);
        n_eog += want;
    }
    CHECK(n_eog == 3 && tok_is_eog(t, 0) && tok_is_eog(t, 2), "EOG set");

    /* Pieces of sampled ids, special = true and false; and truncation of tok_piece. */
    const json_t *pieces = json_object_get(fx, "pieces");
    for (size_t i = 0; i < json_array_size(pieces); i++) {
        const json_t *p = json_array_get(pieces, i);
        int32_t id = (int32_t)json_integer_value(json_object_get(p, "id"));
        char buf[256];
        size_t n = tok_piece(t, id, true, buf, sizeof buf);
        size_t wn;
        char *want = unhex(json_string_value(json_object_get(p, "special_hex")), &wn);
        CHECK(n == wn && memcmp(buf, want, wn) == 0, "piece(%d, special) differs", id);
        free(want);
        n = tok_piece(t, id, false, buf, sizeof buf);
        want = unhex(json_string_value(json_object_get(p, "plain_hex")), &wn);
        CHECK(n == wn && memcmp(buf, want, wn) == 0, "piece(%d, plain) differs", id);
        free(want);
    }
    char small[4];
    size_t pn = tok_piece(t, 1, true, small, sizeof small); /* "<|im_start|>" */
    CHECK(pn == 12 && strcmp(small, "<|i") == 0, "tok_piece truncation: %zu '%s'", pn, small);
    CHECK(tok_piece(t, 1, false, small, sizeof small) == 0 && small[0] == 0, "control piece without special");
    CHECK(tok_piece(t, -1, true, small, sizeof small) == 0 && tok_piece(t, 1 << 20, true, small, 4) == 0,
          "out-of-range ids have empty pieces");

    const json_t *cases = json_object_get(fx, "cases");
    CHECK(json_array_size(cases) >= 60, "only %zu cases", json_array_size(cases));
    int failed_before = test_failures;
    check_cases(t, cases, false);
    printf("  %zu cases (pre smollm)%s\n", json_array_size(cases), test_failures > failed_before ? " (FAILURES)" : " ok");

    const json_t *variants = json_object_get(fx, "variants");
    for (size_t i = 0; i < json_array_size(variants); i++) check_variant(f, json_array_get(variants, i), cases);

    check_beyond_unicode(t);
    check_long_inputs(t, cases, true);

    tok_free(t);
    gguf_close(f);
    CHECK(dam_mem_in_use() == mem0, "%zu bytes still allocated through dam_malloc", dam_mem_in_use() - mem0);
    json_decref(fx);
    check_spm();
    check_qwen2();
    return test_done("tokenizer");
}
