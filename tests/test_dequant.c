/* test_dequant.c — model/dequant.c against tests/fixtures/dequant_cases.json, which the `gguf`
 * Python package produced (tests/fixtures/gen/make_dequant_cases.py; see tests/fixtures/README.md).
 *
 *  1. The type table: for every type id in gguf.GGML_QUANT_SIZES, ggml_type_get() must know it
 *     with the same name, block size and bytes per block. Where the fixture lists an erratum (the
 *     pip gguf package disagreeing with ggml's C source, e.g. Q8_1), the ggml value is expected.
 *     Ids below the largest listed id that the table does not list (retired ggml ids) must be NULL.
 *  2. Synthetic blocks: dequant_row() must reproduce gguf.quants.dequantize bit for bit. Exact
 *     equality is the right test: each output is one fp16 -> fp32 conversion (exact), or
 *     d * q (one rounding) and d * q + m (two roundings, in that order), which is what numpy does
 *     in float32. This holds because the Makefile compiles with -std=c11, where GCC's default is
 *     -ffp-contract=off (no fused multiply-add); a build with -ffp-contract=fast could turn
 *     d * q + m into an FMA and differ in the last bit for Q4_1 / Q5_1.
 *     The K-quants (Q2_K .. Q6_K) are (d * sc) * q - (dmin * m): the same roundings in the same
 *     order in numpy and here. Q8_K's reference is numpy's d * q (gguf has no Q8_K dequantiser).
 *  3. Real rows of the default model: gguf_open + gguf_find_tensor + dequant_row on the row's byte
 *     offset (row r of a tensor starts at r * ne[0] / block_size * type_size), bit for bit.
 *  4. Real blocks of the Gemma-3-270M Q4_K_M GGUF (Q4_K, Q6_K, Q5_0, Q8_0), copied into the fixture
 *     with gguf's values: always checked bit for bit; when that model is present (it is optional:
 *     `scripts/fetch-model.sh gemma3-270m`), its tensor data must also hold those bytes at the
 *     recorded block index (otherwise "skip:" is printed for that part only).
 * Run from the repository root (tests/run.sh does). The model is models/<file> (`make model`). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/dequant.h"
#include "model/gguf.h"
#include "tests/test.h"

#define FIXTURE "tests/fixtures/dequant_cases.json"

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes a hex string into a new malloc'd buffer; returns NULL (and sets *n = 0) if malformed. */
static uint8_t *unhex(const char *s, size_t *n) {
    size_t len = strlen(s);
    *n = 0;
    if (len % 2) return NULL;
    uint8_t *b = malloc(len / 2 + 1);
    if (!b) return NULL;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(b);
            return NULL;
        }
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    *n = len / 2;
    return b;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Compares n floats bitwise with the little-endian float32 patterns in `want`; one CHECK per
 * call (so a wrong type gives one line, not thousands), naming the first mismatch. */
static void check_bitwise(const char *what, const float *got, const uint8_t *want, uint64_t n) {
    uint64_t bad = 0, first = 0;
    uint32_t wbits = 0, gbits = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t w = (uint32_t)want[4 * i] | (uint32_t)want[4 * i + 1] << 8 |
                     (uint32_t)want[4 * i + 2] << 16 | (uint32_t)want[4 * i + 3] << 24;
        uint32_t g = f32_bits(got[i]);
        if (w != g) {
            if (bad++ == 0) {
                first = i;
                wbits = w;
                gbits = g;
            }
        }
    }
    float wf, gf;
    memcpy(&wf, &wbits, 4);
    memcpy(&gf, &gbits, 4);
    CHECK(bad == 0, "%s: %llu of %llu values differ; first at [%llu]: expected %a (0x%08x), got %a (0x%08x)",
          what, (unsigned long long)bad, (unsigned long long)n, (unsigned long long)first, (double)wf,
          wbits, (double)gf, gbits);
}

static const json_t *erratum_for(const json_t *errata, json_int_t id, const char *field) {
    size_t i;
    const json_t *e;
    json_array_foreach(errata, i, e) {
        if (json_integer_value(json_object_get(e, "id")) == id &&
            strcmp(json_string_value(json_object_get(e, "field")), field) == 0)
            return e;
    }
    return NULL;
}

static void test_type_table(const json_t *root) {
    const json_t *types = json_object_get(root, "types");
    const json_t *errata = json_object_get(root, "type_errata");
    CHECK(json_is_array(types) && json_array_size(types) > 0, "fixture has no type table");
    if (!json_is_array(types)) return;
    json_int_t max_id = -1;
    size_t i;
    const json_t *t;
    char listed[256] = {0};
    json_array_foreach(types, i, t) {
        json_int_t id = json_integer_value(json_object_get(t, "id"));
        const char *name = json_string_value(json_object_get(t, "name"));
        json_int_t bs = json_integer_value(json_object_get(t, "block_size"));
        json_int_t ts = json_integer_value(json_object_get(t, "type_size"));
        const json_t *e = erratum_for(errata, id, "type_size");
        if (e) ts = json_integer_value(json_object_get(e, "ggml"));
        if (id > max_id) max_id = id;
        if (id >= 0 && id < 256) listed[id] = 1;
        const ggml_type_info *ti = ggml_type_get((uint32_t)id);
        CHECK(ti != NULL, "ggml type id %lld (%s, block %lld, %lld bytes) is missing from our type table",
              (long long)id, name, (long long)bs, (long long)ts);
        if (!ti) continue;
        CHECK(strcmp(ti->name, name) == 0, "type %lld: name %s, expected %s", (long long)id, ti->name, name);
        CHECK(ti->block_size == bs, "type %lld (%s): block size %u, expected %lld", (long long)id, name,
              ti->block_size, (long long)bs);
        CHECK(ti->type_size == ts, "type %lld (%s): type size %u, expected %lld%s", (long long)id, name,
              ti->type_size, (long long)ts, e ? " (ggml value; the gguf package's differs, see type_errata)" : "");
    }
    for (json_int_t id = 0; id < max_id && id < 256; id++)
        if (!listed[id])
            CHECK(ggml_type_get((uint32_t)id) == NULL, "type id %lld is not a ggml type but our table has %s",
                  (long long)id, ggml_type_get((uint32_t)id)->name);
    CHECK(ggml_type_get(100000) == NULL, "absurd type id 100000 must be unknown");
}

static void test_synthetic(const json_t *root) {
    const json_t *cases = json_object_get(root, "synthetic");
    CHECK(json_is_array(cases) && json_array_size(cases) == 15, "fixture: expected 15 synthetic cases");
    size_t i;
    const json_t *c;
    json_array_foreach(cases, i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        uint32_t id = (uint32_t)json_integer_value(json_object_get(c, "type_id"));
        uint64_t n = (uint64_t)json_integer_value(json_object_get(c, "n"));
        size_t nraw, nval;
        uint8_t *raw = unhex(json_string_value(json_object_get(c, "hex")), &nraw);
        uint8_t *want = unhex(json_string_value(json_object_get(c, "values_f32_hex")), &nval);
        const ggml_type_info *ti = ggml_type_get(id);
        CHECK(raw && want && nval == 4 * n, "synthetic %s: malformed fixture entry", type);
        CHECK(ti && ti->supported, "synthetic %s: type %u is not supported by dequant_row", type, id);
        if (raw && want && nval == 4 * n && ti && ti->supported) {
            CHECK(nraw == n / ti->block_size * ti->type_size, "synthetic %s: %zu raw bytes for %llu values",
                  type, nraw, (unsigned long long)n);
            float *out = calloc(n, sizeof *out);
            dequant_row(id, raw, out, n);
            char what[64];
            snprintf(what, sizeof what, "synthetic %s", type);
            check_bitwise(what, out, want, n);
            free(out);
        }
        free(raw);
        free(want);
    }
}

static void test_model_rows(const json_t *root) {
    const json_t *m = json_object_get(root, "model");
    const char *path = json_string_value(json_object_get(m, "path"));
    CHECK(path != NULL, "fixture: no model path");
    if (!path) return;
    if (access(path, R_OK) != 0) {
        CHECK(0, "%s: model file missing (run `make model` from the repository root)", path);
        return;
    }
    gguf_file *f = gguf_open(path);
    size_t i;
    const json_t *jt;
    json_array_foreach(json_object_get(m, "tensors"), i, jt) {
        const char *name = json_string_value(json_object_get(jt, "name"));
        const gguf_tensor *t = gguf_find_tensor(f, name);
        CHECK(t != NULL, "%s: tensor %s not found", path, name);
        if (!t) continue;
        uint32_t want_type = (uint32_t)json_integer_value(json_object_get(jt, "type_id"));
        CHECK(t->type == want_type, "%s: type %u, expected %u", name, t->type, want_type);
        const json_t *ne = json_object_get(jt, "ne");
        for (size_t d = 0; d < json_array_size(ne); d++)
            CHECK(t->ne[d] == (uint64_t)json_integer_value(json_array_get(ne, d)), "%s: ne[%zu] = %llu, expected %lld",
                  name, d, (unsigned long long)t->ne[d], (long long)json_integer_value(json_array_get(ne, d)));
        const ggml_type_info *ti = ggml_type_get(t->type);
        if (t->type != want_type || !ti || !ti->supported) continue;
        uint64_t row_bytes = t->ne[0] / ti->block_size * ti->type_size;
        uint64_t n_rows = t->n_elements / t->ne[0];
        CHECK(row_bytes == (uint64_t)json_integer_value(json_object_get(jt, "row_bytes")),
              "%s: row bytes %llu differ from the fixture", name, (unsigned long long)row_bytes);
        float *out = calloc(t->ne[0], sizeof *out);
        size_t r;
        const json_t *jr;
        json_array_foreach(json_object_get(jt, "rows"), r, jr) {
            uint64_t idx = (uint64_t)json_integer_value(json_object_get(jr, "index"));
            size_t nval;
            uint8_t *want = unhex(json_string_value(json_object_get(jr, "values_f32_hex")), &nval);
            CHECK(want && nval == 4 * t->ne[0] && idx < n_rows, "%s row %llu: malformed fixture entry", name,
                  (unsigned long long)idx);
            if (want && nval == 4 * t->ne[0] && idx < n_rows) {
                dequant_row(t->type, t->data + idx * row_bytes, out, t->ne[0]);
                char what[96];
                snprintf(what, sizeof what, "%s row %llu", name, (unsigned long long)idx);
                check_bitwise(what, out, want, t->ne[0]);
            }
            free(want);
        }
        /* A 1-D tensor is one row: dequant_tensor must give the same values. */
        if (n_rows == 1 && json_array_size(json_object_get(jt, "rows")) == 1) {
            size_t nval;
            uint8_t *want = unhex(json_string_value(json_object_get(json_array_get(json_object_get(jt, "rows"), 0),
                                                                    "values_f32_hex")), &nval);
            memset(out, 0, t->ne[0] * sizeof *out);
            dequant_tensor(f, t, out);
            if (want && nval == 4 * t->ne[0]) check_bitwise("dequant_tensor(output_norm)", out, want, t->ne[0]);
            free(want);
        }
        free(out);
    }
    gguf_close(f);
}

static void test_real_blocks(const json_t *root) {
    const json_t *rb = json_object_get(root, "real_blocks");
    const json_t *blocks = json_object_get(rb, "blocks");
    CHECK(json_is_array(blocks) && json_array_size(blocks) >= 12, "fixture: expected >= 12 real blocks");
    const char *path = json_string_value(json_object_get(rb, "path"));
    gguf_file *f = path && access(path, R_OK) == 0 ? gguf_open(path) : NULL;
    if (!f) printf("skip: %s absent: real K-quant blocks checked from the fixture only, not located in the file\n",
                   path ? path : "(no path)");
    bool seen[64] = {false};
    size_t i;
    const json_t *jb;
    json_array_foreach(blocks, i, jb) {
        const char *name = json_string_value(json_object_get(jb, "tensor"));
        uint32_t id = (uint32_t)json_integer_value(json_object_get(jb, "type_id"));
        uint64_t b = (uint64_t)json_integer_value(json_object_get(jb, "block"));
        size_t nraw, nval;
        uint8_t *raw = unhex(json_string_value(json_object_get(jb, "hex")), &nraw);
        uint8_t *want = unhex(json_string_value(json_object_get(jb, "values_f32_hex")), &nval);
        const ggml_type_info *ti = ggml_type_get(id);
        bool ok = raw && want && ti && ti->supported && nraw == ti->type_size && nval == 4 * (size_t)ti->block_size;
        CHECK(ok, "real block %zu (%s): malformed entry or unsupported type %u", i, name ? name : "?", id);
        if (ok) {
            if (id < 64) seen[id] = true;
            float *out = calloc(ti->block_size, sizeof *out);
            dequant_row(id, raw, out, ti->block_size);
            char what[128];
            snprintf(what, sizeof what, "real %s block %llu of %s", ti->name, (unsigned long long)b, name);
            check_bitwise(what, out, want, ti->block_size);
            free(out);
            if (f) {
                const gguf_tensor *t = gguf_find_tensor(f, name);
                CHECK(t && t->type == id && (b + 1) * ti->type_size <= t->n_bytes &&
                          memcmp(t->data + b * ti->type_size, raw, ti->type_size) == 0,
                      "%s: block %llu of tensor %s is not the fixture's bytes (or the tensor is missing / of another type)",
                      path, (unsigned long long)b, name);
            }
        }
        free(raw);
        free(want);
    }
    CHECK(seen[12] && seen[14] && seen[6] && seen[8], "real blocks must cover Q4_K, Q6_K, Q5_0 and Q8_0");
    gguf_close(f);
}

int main(void) {
    json_error_t err;
    json_t *root = json_load_file(FIXTURE, 0, &err);
    CHECK(root != NULL, "%s:%d: %s (run from the repository root)", FIXTURE, err.line, err.text);
    if (!root) return test_done("dequant");

    /* fp16 conversion spot checks (exact by construction). */
    CHECK(fp16_to_f32(0x3C00) == 1.0f, "fp16 1.0");
    CHECK(fp16_to_f32(0x0001) == 0x1p-24f, "fp16 smallest subnormal");
    CHECK(fp16_to_f32(0x7BFF) == 65504.0f, "fp16 max");
    CHECK(bf16_to_f32(0x3F80) == 1.0f, "bf16 1.0");

    test_type_table(root);
    test_synthetic(root);
    test_model_rows(root);
    test_real_blocks(root);
    json_decref(root);
    return test_done("dequant");
}
