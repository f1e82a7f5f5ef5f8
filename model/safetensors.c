/* safetensors.c — see safetensors.h. */
#include "model/safetensors.h"

#include <jansson.h>
#include <string.h>

#include "core/error.h"
#include "core/file_map.h"
#include "core/mem.h"
#include "model/dequant.h"

/* Element size in bytes of a safetensors dtype name, 0 if unknown. */
static int dtype_size(const char *d) {
    static const struct {
        const char *name;
        int size;
    } T[] = {{"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2}, {"I64", 8},     {"I32", 4},     {"I16", 2},
             {"I8", 1},  {"U8", 1},  {"U16", 2},  {"U32", 4},  {"U64", 8},     {"BOOL", 1},    {"F8_E4M3", 1},
             {"F8_E5M2", 1}};
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        if (strcmp(T[i].name, d) == 0) return T[i].size;
    return 0;
}

/* Fills t from the header entry `v` of tensor `name`; data_size is the buffer length. */
static void parse_entry(const st_file *f, const char *name, json_t *v, const uint8_t *data, uint64_t data_size,
                        st_tensor *t) {
    if (!json_is_object(v)) dam_die(DAM_EXIT_INPUT, "%s: tensor %s: header entry is not an object", f->path, name);
    const char *keys[] = {"dtype", "shape", "data_offsets"};
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
        if (strcmp(k, keys[0]) && strcmp(k, keys[1]) && strcmp(k, keys[2]))
            dam_die(DAM_EXIT_INPUT, "%s: tensor %s: unknown header key \"%s\"", f->path, name, k);
    }
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"), *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(off) || json_array_size(off) != 2)
        dam_die(DAM_EXIT_INPUT, "%s: tensor %s: needs \"dtype\" (string), \"shape\" (array) and \"data_offsets\" ([begin, end])",
                f->path, name);
    const char *d = json_string_value(dt);
    int es = dtype_size(d);
    if (es == 0 || strlen(d) >= sizeof t->dtype)
        dam_die(DAM_EXIT_INPUT, "%s: tensor %s: unknown dtype \"%.16s\"", f->path, name, d);
    t->name = dam_strdup(name, "safetensors name");
    strcpy(t->dtype, d);
    if (json_array_size(sh) > ST_MAX_DIMS)
        dam_die(DAM_EXIT_INPUT, "%s: tensor %s: %zu dimensions (at most %d)", f->path, name, json_array_size(sh), ST_MAX_DIMS);
    t->n_dims = (int)json_array_size(sh);
    t->n_elements = 1;
    for (int i = 0; i < t->n_dims; i++) {
        json_t *e = json_array_get(sh, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > ((json_int_t)1 << 40))
            dam_die(DAM_EXIT_INPUT, "%s: tensor %s: shape[%d] is not a non-negative integer", f->path, name, i);
        t->shape[i] = (uint64_t)json_integer_value(e);
        if (t->shape[i] && t->n_elements > UINT64_MAX / 16 / t->shape[i])
            dam_die(DAM_EXIT_INPUT, "%s: tensor %s: shape too large", f->path, name);
        t->n_elements *= t->shape[i];
    }
    json_t *b = json_array_get(off, 0), *e = json_array_get(off, 1);
    if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 || json_integer_value(e) < json_integer_value(b))
        dam_die(DAM_EXIT_INPUT, "%s: tensor %s: data_offsets must be integers 0 <= begin <= end", f->path, name);
    uint64_t begin = (uint64_t)json_integer_value(b), end = (uint64_t)json_integer_value(e);
    if (end > data_size)
        dam_die(DAM_EXIT_INPUT, "%s: tensor %s: data_offsets [%llu, %llu] run past the end of the data (%llu bytes; truncated file?)",
                f->path, name, (unsigned long long)begin, (unsigned long long)end, (unsigned long long)data_size);
    t->n_bytes = end - begin;
    if (t->n_bytes != t->n_elements * (uint64_t)es)
        dam_die(DAM_EXIT_INPUT, "%s: tensor %s: %llu bytes for %llu elements of %s (%d bytes each)", f->path, name,
                (unsigned long long)t->n_bytes, (unsigned long long)t->n_elements, d, es);
    t->data = data + begin;
}

static int cmp_by_offset(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->data != y->data) return x->data < y->data ? -1 : 1;
    return (x->n_bytes > y->n_bytes) - (x->n_bytes < y->n_bytes);
}

/* The format requires the tensors to tile the data exactly: no overlap, no hole, nothing after the
 * last one (a file with bytes no tensor owns can hide other content). */
static void check_coverage(const st_file *f, const uint8_t *data, uint64_t data_size) {
    const st_tensor **by = dam_malloc(sizeof(st_tensor *) * (size_t)(f->n_tensors + 1), "safetensors order");
    for (int i = 0; i < f->n_tensors; i++) by[i] = &f->tensors[i];
    qsort(by, (size_t)f->n_tensors, sizeof *by, cmp_by_offset);
    uint64_t at = 0; /* end of the data covered so far */
    for (int i = 0; i < f->n_tensors; i++) {
        const uint64_t b = (uint64_t)(by[i]->data - data);
        if (b < at)
            dam_die(DAM_EXIT_INPUT, "%s: tensor %s: data_offsets [%llu, %llu] overlap tensor %s's (ending at %llu)", f->path,
                    by[i]->name, (unsigned long long)b, (unsigned long long)(b + by[i]->n_bytes), by[i - 1]->name,
                    (unsigned long long)at);
        if (b > at)
            dam_die(DAM_EXIT_INPUT, "%s: data bytes %llu..%llu belong to no tensor (the format allows no holes)", f->path,
                    (unsigned long long)at, (unsigned long long)b - 1);
        at = b + by[i]->n_bytes;
    }
    if (at != data_size)
        dam_die(DAM_EXIT_INPUT, "%s: data bytes %llu..%llu after the last tensor belong to no tensor (the format allows no holes)",
                f->path, (unsigned long long)at, (unsigned long long)data_size - 1);
    dam_free(by);
}

st_file *st_open(const char *path) {
    st_file *f = dam_calloc(1, sizeof *f, "safetensors");
    f->path = dam_strdup(path, "path");
    f->map = file_map(path, "safetensors file", &f->size);
    if (f->size < 8) dam_die(DAM_EXIT_INPUT, "%s: safetensors file of %zu bytes is truncated (no header)", path, f->size);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)f->map[i] << (8 * i);
    if (n > f->size - 8)
        dam_die(DAM_EXIT_INPUT, "%s: header length %llu runs past the end of the file (%zu bytes; truncated?)", path,
                (unsigned long long)n, f->size);
    json_error_t err;
    json_t *h = json_loadb((const char *)f->map + 8, (size_t)n, JSON_REJECT_DUPLICATES, &err);
    if (h == NULL || !json_is_object(h))
        dam_die(DAM_EXIT_INPUT, "%s: header is not a JSON object: %s", path, h ? "other JSON value" : err.text);
    const uint8_t *data = f->map + 8 + n;
    const uint64_t data_size = f->size - 8 - n;
    f->tensors = dam_calloc(json_object_size(h) + 1, sizeof(st_tensor), "safetensors table");
    const char *k;
    json_t *v;
    json_object_foreach(h, k, v) {
        if (strcmp(k, "__metadata__") == 0) { /* the format's string-to-string map */
            const char *mk;
            json_t *mv;
            if (!json_is_object(v)) dam_die(DAM_EXIT_INPUT, "%s: __metadata__ must be an object of strings", path);
            json_object_foreach(v, mk, mv)
                if (!json_is_string(mv)) dam_die(DAM_EXIT_INPUT, "%s: __metadata__[\"%s\"] must be a string", path, mk);
            continue;
        }
        parse_entry(f, k, v, data, data_size, &f->tensors[f->n_tensors++]);
    }
    json_decref(h);
    check_coverage(f, data, data_size);
    return f;
}

void st_close(st_file *f) {
    if (f == NULL) return;
    file_unmap(f->map, f->size);
    for (int i = 0; i < f->n_tensors; i++) dam_free(f->tensors[i].name);
    dam_free(f->tensors);
    dam_free(f->path);
    dam_free(f);
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

void st_to_f32(const st_file *f, const st_tensor *t, float *dst) {
    const uint8_t *p = t->data;
    if (strcmp(t->dtype, "F32") == 0) {
        memcpy(dst, p, t->n_bytes);
    } else if (strcmp(t->dtype, "F16") == 0 || strcmp(t->dtype, "BF16") == 0) {
        const int bf = t->dtype[0] == 'B';
        for (uint64_t i = 0; i < t->n_elements; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
            dst[i] = bf ? bf16_to_f32(h) : fp16_to_f32(h);
        }
    } else {
        dam_die(DAM_EXIT_INPUT, "%s: tensor %s has dtype %s (supported: F32, F16, BF16)", f->path, t->name, t->dtype);
    }
}
