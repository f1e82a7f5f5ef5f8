/* gguf.c — see gguf.h. Parsing goes through a cursor that checks every read against the end of
 * the mapping, so no length or count taken from the file is trusted before it is checked. */
#include "model/gguf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/file_map.h"
#include "core/mem.h"
#include "model/dequant.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4
#define GGUF_MAX_ARRAY_DEPTH 4

typedef struct {
    const gguf_file *f;
    uint64_t pos;
    const char *what; /* what is being read, for messages */
} cursor;

_Noreturn static void bad(const gguf_file *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(const gguf_file *f, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dam_die(DAM_EXIT_INPUT, "%s: %s", f->path, msg);
}

static void need(cursor *c, uint64_t n) {
    if (n > c->f->size || c->pos > c->f->size - n)
        bad(c->f, "file is truncated: %s needs %llu bytes at offset %llu, file has %zu bytes", c->what,
            (unsigned long long)n, (unsigned long long)c->pos, c->f->size);
}

static uint32_t rd_u32(cursor *c) {
    need(c, 4);
    uint32_t v;
    memcpy(&v, c->f->map + c->pos, 4);
    c->pos += 4;
    return v;
}

static uint64_t rd_u64(cursor *c) {
    need(c, 8);
    uint64_t v;
    memcpy(&v, c->f->map + c->pos, 8);
    c->pos += 8;
    return v;
}

static gguf_str rd_str(cursor *c) {
    uint64_t len = rd_u64(c);
    need(c, len);
    gguf_str s = {(const char *)c->f->map + c->pos, len};
    c->pos += len;
    return s;
}

static uint64_t scalar_size(gguf_type t) {
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

static const char *TYPE_NAMES[GGUF_TYPE_COUNT] = {"UINT8", "INT8", "UINT16", "INT16", "UINT32",
                                                  "INT32", "FLOAT32", "BOOL", "STRING", "ARRAY",
                                                  "UINT64", "INT64", "FLOAT64"};

const char *gguf_type_name(gguf_type t) { return (unsigned)t < GGUF_TYPE_COUNT ? TYPE_NAMES[t] : "?"; }

/* Decodes one scalar of type t at p into v (integers into i64/u64, floats into f64). */
static void decode_scalar(gguf_type t, const uint8_t *p, gguf_value *v) {
    switch (t) {
    case GGUF_TYPE_UINT8: v->u64 = p[0]; v->i64 = p[0]; break;
    case GGUF_TYPE_INT8: v->i64 = (int8_t)p[0]; break;
    case GGUF_TYPE_BOOL: v->b = p[0] != 0; v->u64 = p[0] != 0; v->i64 = p[0] != 0; break;
    case GGUF_TYPE_UINT16: { uint16_t x; memcpy(&x, p, 2); v->u64 = x; v->i64 = x; break; }
    case GGUF_TYPE_INT16: { int16_t x; memcpy(&x, p, 2); v->i64 = x; break; }
    case GGUF_TYPE_UINT32: { uint32_t x; memcpy(&x, p, 4); v->u64 = x; v->i64 = x; break; }
    case GGUF_TYPE_INT32: { int32_t x; memcpy(&x, p, 4); v->i64 = x; break; }
    case GGUF_TYPE_UINT64: { uint64_t x; memcpy(&x, p, 8); v->u64 = x; v->i64 = (int64_t)x; break; }
    case GGUF_TYPE_INT64: { int64_t x; memcpy(&x, p, 8); v->i64 = x; break; }
    case GGUF_TYPE_FLOAT32: { float x; memcpy(&x, p, 4); v->f64 = x; break; }
    case GGUF_TYPE_FLOAT64: { double x; memcpy(&x, p, 8); v->f64 = x; break; }
    default: break;
    }
    if (t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 || t == GGUF_TYPE_INT64)
        v->u64 = (uint64_t)v->i64;
}

/* Skips an array value body (nested arrays allowed up to a fixed depth). */
static void skip_array(cursor *c, gguf_type elem, uint64_t n, int depth) {
    if (elem == GGUF_TYPE_STRING) {
        for (uint64_t i = 0; i < n; i++) rd_str(c);
    } else if (elem == GGUF_TYPE_ARRAY) {
        if (depth >= GGUF_MAX_ARRAY_DEPTH) bad(c->f, "%s: arrays nested deeper than %d", c->what, GGUF_MAX_ARRAY_DEPTH);
        for (uint64_t i = 0; i < n; i++) {
            uint32_t t = rd_u32(c);
            if (t >= GGUF_TYPE_COUNT) bad(c->f, "%s: unknown metadata type %u", c->what, t);
            uint64_t m = rd_u64(c);
            skip_array(c, (gguf_type)t, m, depth + 1);
        }
    } else {
        uint64_t es = scalar_size(elem);
        if (es == 0) bad(c->f, "%s: unknown array element type %u", c->what, (unsigned)elem);
        if (n > (c->f->size / es)) bad(c->f, "%s: array of %llu elements cannot fit in the file", c->what, (unsigned long long)n);
        need(c, n * es);
        c->pos += n * es;
    }
}

static void read_value(cursor *c, gguf_file *f, gguf_type t, gguf_value *v) {
    memset(v, 0, sizeof *v);
    v->type = t;
    if (t == GGUF_TYPE_STRING) {
        v->str = rd_str(c);
    } else if (t == GGUF_TYPE_ARRAY) {
        uint32_t et = rd_u32(c);
        if (et >= GGUF_TYPE_COUNT) bad(f, "%s: unknown array element type %u", c->what, et);
        v->arr_type = (gguf_type)et;
        v->arr_n = rd_u64(c);
        /* every element takes at least one byte (strings 8): a count above the file size is absurd */
        if (v->arr_n > f->size) bad(f, "%s: array count %llu exceeds the file size", c->what, (unsigned long long)v->arr_n);
        v->arr_data = f->map + c->pos;
        if (et == GGUF_TYPE_STRING) {
            if (v->arr_n > (f->size - c->pos) / 8)
                bad(f, "%s: array of %llu strings cannot fit in the file", c->what, (unsigned long long)v->arr_n);
            v->arr_strs = dam_malloc(v->arr_n * sizeof(gguf_str), "GGUF string array");
            for (uint64_t i = 0; i < v->arr_n; i++) v->arr_strs[i] = rd_str(c);
        } else {
            skip_array(c, (gguf_type)et, v->arr_n, 1);
        }
    } else {
        uint64_t sz = scalar_size(t);
        if (sz == 0) bad(f, "%s: unknown metadata type %u", c->what, (unsigned)t);
        need(c, sz);
        decode_scalar(t, f->map + c->pos, v);
        c->pos += sz;
    }
}

static void parse(gguf_file *f) {
    cursor c = {f, 0, "header"};
    if (f->size < 4 || memcmp(f->map, "GGUF", 4) != 0) bad(f, "not a GGUF file (magic is not \"GGUF\")");
    c.pos = 4;
    f->version = rd_u32(&c);
    if (f->version != 2 && f->version != 3)
        bad(f, "unsupported GGUF version %u (supported: 2, 3)", f->version);
    f->n_tensors = rd_u64(&c);
    f->n_kv = rd_u64(&c);
    /* A tensor entry takes at least 8 (name len) + 4 + 8 + 4 + 8 bytes; a kv at least 8 + 4 + 1. */
    if (f->n_tensors > f->size / 32)
        bad(f, "tensor count %llu cannot fit in a file of %zu bytes (truncated or corrupt)",
            (unsigned long long)f->n_tensors, f->size);
    if (f->n_kv > f->size / 13)
        bad(f, "metadata count %llu cannot fit in a file of %zu bytes (truncated or corrupt)",
            (unsigned long long)f->n_kv, f->size);

    f->kv = dam_calloc(f->n_kv ? f->n_kv : 1, sizeof(gguf_kv), "GGUF metadata table");
    char what[160];
    for (uint64_t i = 0; i < f->n_kv; i++) {
        snprintf(what, sizeof what, "metadata entry %llu", (unsigned long long)i);
        c.what = what;
        gguf_kv *kv = &f->kv[i];
        kv->key = rd_str(&c);
        snprintf(what, sizeof what, "metadata key %.*s", (int)(kv->key.len < 100 ? kv->key.len : 100), kv->key.ptr);
        for (uint64_t j = 0; j < i; j++)
            if (f->kv[j].key.len == kv->key.len && memcmp(f->kv[j].key.ptr, kv->key.ptr, kv->key.len) == 0)
                bad(f, "duplicate %s", what);
        uint32_t t = rd_u32(&c);
        if (t >= GGUF_TYPE_COUNT) bad(f, "%s has unknown type %u", what, t);
        read_value(&c, f, (gguf_type)t, &kv->value);
    }

    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *al = gguf_find_kv(f, "general.alignment");
    if (al) {
        if (al->value.type != GGUF_TYPE_UINT32) bad(f, "general.alignment must be UINT32");
        f->alignment = al->value.u64;
        if (f->alignment == 0 || (f->alignment & (f->alignment - 1)) != 0)
            bad(f, "general.alignment %llu is not a power of two", (unsigned long long)f->alignment);
    }

    f->tensors = dam_calloc(f->n_tensors ? f->n_tensors : 1, sizeof(gguf_tensor), "GGUF tensor table");
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        snprintf(what, sizeof what, "tensor entry %llu", (unsigned long long)i);
        c.what = what;
        gguf_tensor *t = &f->tensors[i];
        t->name = rd_str(&c);
        snprintf(what, sizeof what, "tensor %.*s", (int)(t->name.len < 100 ? t->name.len : 100), t->name.ptr);
        t->n_dims = rd_u32(&c);
        if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS) bad(f, "%s has %u dimensions (1..4 allowed)", what, t->n_dims);
        t->n_elements = 1;
        for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            t->ne[d] = rd_u64(&c);
            if (t->ne[d] == 0 || t->ne[d] > f->size * 8 / t->n_elements)
                bad(f, "%s has an impossible dimension %u of size %llu", what, d, (unsigned long long)t->ne[d]);
            t->n_elements *= t->ne[d];
        }
        t->type = rd_u32(&c);
        const ggml_type_info *ti = ggml_type_get(t->type);
        if (ti == NULL) bad(f, "%s has unknown tensor type %u", what, t->type);
        if (t->ne[0] % ti->block_size != 0)
            bad(f, "%s: row length %llu is not a multiple of the %s block size %u", what,
                (unsigned long long)t->ne[0], ti->name, ti->block_size);
        t->n_bytes = t->n_elements / ti->block_size * ti->type_size;
        t->offset = rd_u64(&c);
        if (t->offset % f->alignment != 0)
            bad(f, "%s: offset %llu is not a multiple of the alignment %llu", what,
                (unsigned long long)t->offset, (unsigned long long)f->alignment);
        for (uint64_t j = 0; j < i; j++)
            if (f->tensors[j].name.len == t->name.len && memcmp(f->tensors[j].name.ptr, t->name.ptr, t->name.len) == 0)
                bad(f, "duplicate %s", what);
    }

    f->data_offset = (c.pos + f->alignment - 1) / f->alignment * f->alignment;
    if (f->n_tensors > 0 && f->data_offset > f->size)
        bad(f, "file is truncated: the tensor data section would start at byte %llu, file has %zu bytes",
            (unsigned long long)f->data_offset, f->size);
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        uint64_t avail = f->size - f->data_offset;
        if (t->offset > avail || t->n_bytes > avail - t->offset)
            bad(f, "tensor %.*s (%llu bytes at data offset %llu) runs past the end of the file (%zu bytes)",
                (int)t->name.len, t->name.ptr, (unsigned long long)t->n_bytes,
                (unsigned long long)t->offset, f->size);
        t->data = f->map + f->data_offset + t->offset;
    }
}

gguf_file *gguf_open(const char *path) {
    gguf_file *f = dam_calloc(1, sizeof *f, "GGUF file");
    f->path = dam_strdup(path, "path");
    f->map = file_map(path, "model file", &f->size);
    parse(f);
    return f;
}

void gguf_close(gguf_file *f) {
    if (f == NULL) return;
    for (uint64_t i = 0; i < f->n_kv; i++) dam_free(f->kv[i].value.arr_strs);
    dam_free(f->kv);
    dam_free(f->tensors);
    file_unmap(f->map, f->size);
    dam_free(f->path);
    dam_free(f);
}

bool gguf_str_eq(gguf_str s, const char *c) { return strlen(c) == s.len && memcmp(s.ptr, c, s.len) == 0; }

char *gguf_str_dup(gguf_str s) {
    char *d = dam_malloc(s.len + 1, "string");
    memcpy(d, s.ptr, s.len);
    d[s.len] = 0;
    return d;
}

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key) {
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (gguf_str_eq(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (gguf_str_eq(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

static const gguf_kv *required(const gguf_file *f, const char *key) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    if (kv == NULL) dam_die(DAM_EXIT_INPUT, "%s: required metadata key %s is missing", f->path, key);
    return kv;
}

static bool is_int(gguf_type t) {
    return t <= GGUF_TYPE_INT32 ? t != GGUF_TYPE_FLOAT32 : (t == GGUF_TYPE_UINT64 || t == GGUF_TYPE_INT64);
}

static uint32_t as_u32(const gguf_file *f, const gguf_kv *kv, const char *key) {
    if (!is_int(kv->value.type) || kv->value.i64 < 0 || kv->value.u64 > UINT32_MAX)
        dam_die(DAM_EXIT_INPUT, "%s: metadata %s must be a non-negative 32-bit integer (found %s)", f->path, key,
                gguf_type_name(kv->value.type));
    return (uint32_t)kv->value.u64;
}

static float as_f32(const gguf_file *f, const gguf_kv *kv, const char *key) {
    if (kv->value.type == GGUF_TYPE_FLOAT32 || kv->value.type == GGUF_TYPE_FLOAT64) return (float)kv->value.f64;
    if (is_int(kv->value.type)) return (float)kv->value.i64;
    dam_die(DAM_EXIT_INPUT, "%s: metadata %s must be a number (found %s)", f->path, key, gguf_type_name(kv->value.type));
}

static bool as_bool(const gguf_file *f, const gguf_kv *kv, const char *key) {
    if (kv->value.type != GGUF_TYPE_BOOL)
        dam_die(DAM_EXIT_INPUT, "%s: metadata %s must be BOOL (found %s)", f->path, key, gguf_type_name(kv->value.type));
    return kv->value.b;
}

uint32_t gguf_get_u32(const gguf_file *f, const char *key) { return as_u32(f, required(f, key), key); }
float gguf_get_f32(const gguf_file *f, const char *key) { return as_f32(f, required(f, key), key); }
bool gguf_get_bool(const gguf_file *f, const char *key) { return as_bool(f, required(f, key), key); }

gguf_str gguf_get_str(const gguf_file *f, const char *key) {
    const gguf_kv *kv = required(f, key);
    if (kv->value.type != GGUF_TYPE_STRING)
        dam_die(DAM_EXIT_INPUT, "%s: metadata %s must be STRING (found %s)", f->path, key, gguf_type_name(kv->value.type));
    return kv->value.str;
}

uint32_t gguf_get_u32_or(const gguf_file *f, const char *key, uint32_t dflt) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    return kv ? as_u32(f, kv, key) : dflt;
}

float gguf_get_f32_or(const gguf_file *f, const char *key, float dflt) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    return kv ? as_f32(f, kv, key) : dflt;
}

bool gguf_get_bool_or(const gguf_file *f, const char *key, bool dflt) {
    const gguf_kv *kv = gguf_find_kv(f, key);
    return kv ? as_bool(f, kv, key) : dflt;
}

const gguf_value *gguf_get_arr(const gguf_file *f, const char *key, gguf_type elem) {
    const gguf_kv *kv = required(f, key);
    if (kv->value.type != GGUF_TYPE_ARRAY || kv->value.arr_type != elem)
        dam_die(DAM_EXIT_INPUT, "%s: metadata %s must be an ARRAY of %s", f->path, key, gguf_type_name(elem));
    return &kv->value;
}

int64_t gguf_arr_int(const gguf_value *v, uint64_t i) {
    gguf_value x;
    memset(&x, 0, sizeof x);
    decode_scalar(v->arr_type, v->arr_data + i * scalar_size(v->arr_type), &x);
    return x.i64;
}
